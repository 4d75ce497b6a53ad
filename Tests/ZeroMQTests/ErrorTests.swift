import Foundation
import Testing
import ZeroMQ

@Suite("Typed errors, timeouts and shutdown")
struct ErrorTests {
    @Test(arguments: [
        ("tcp://127.0.0.1:notaport", ZMQError.Code.invalidArgument),
        ("bogus://nowhere", ZMQError.Code.protocolNotSupported),
        ("tcp://no-such-interface-xyz:5555", ZMQError.Code.noSuchDevice),
    ])
    func bindingAnInvalidEndpointNamesIt(endpoint: String, code: ZMQError.Code) throws {
        let context = try Context()
        defer { context.terminate() }
        let socket = try Socket(context, .pull)
        let error = #expect(throws: ZMQError.self) { try socket.bind(endpoint) }
        #expect(error?.code == code)
        #expect(error?.endpoint == endpoint)
        #expect(error?.description.contains("zmq_bind(\"\(endpoint)\") failed") == true)
    }

    @Test func bindingATakenEndpointSaysAddressInUse() throws {
        let context = try Context()
        defer { context.terminate() }
        let first = try Socket(context, .pull)
        try first.bind("tcp://127.0.0.1:*")
        let endpoint = try first.lastEndpoint
        let second = try Socket(context, .pull)
        let error = #expect(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error?.code == .addressInUse)
        #expect(error?.description.contains(endpoint) == true)
        #expect(error?.description.contains("already listens") == true)
    }

    @Test func receiveTimeoutIsReportedAsWouldBlock() throws {
        let context = try Context()
        defer { context.terminate() }
        let pull = try Socket(context, .pull)
        try pull.bind("inproc://timeout")
        try pull.setReceiveTimeout(.milliseconds(50))
        #expect(try pull.receiveTimeout == .milliseconds(50))
        var message = Message()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try pull.receive(into: &message) == .wouldBlock)
        #expect(clock.now - start >= .milliseconds(45))
        #expect(try pull.receive(into: &message, dontWait: true) == .wouldBlock)
    }

    @Test func sendBeyondTheHighWaterMarkWouldBlock() throws {
        let context = try Context()
        defer { context.terminate() }
        let push = try Socket(context, .push)
        try push.setSendHighWaterMark(4)
        #expect(try push.sendHighWaterMark == 4)
        try push.bind("inproc://hwm")
        let pull = try Socket(context, .pull)
        try pull.setReceiveHighWaterMark(4)
        try pull.connect("inproc://hwm")
        var accepted = 0
        for _ in 0..<100 {
            var message = Message(string: "x")
            if try push.send(&message, dontWait: true) == .wouldBlock { break }
            accepted += 1
        }
        #expect(accepted >= 4 && accepted < 100, "bounded queue: \(accepted) accepted")
    }

    @Test func shutdownUnblocksAThreadBlockedInReceive() throws {
        let context = try Context()
        let pull = try Socket(context, .pull)
        try pull.bind("inproc://blocked")
        let outcome = Mutex<String>("still blocked")
        let started = DispatchSemaphore(value: 0)
        let thread = SocketThread.start(name: "blocked-recv") {
            var message = Message()
            started.signal()
            do {
                _ = try pull.receive(into: &message)
                outcome.withLock { $0 = "received" }
            } catch let error as ZMQError {
                let text = error.code == .contextTerminated ? "ETERM" : "\(error)"
                outcome.withLock { $0 = text }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
            pull.close()
        }
        started.wait()
        context.shutdown()
        #expect(thread.join(timeout: .seconds(5)), "the receiving thread ended")
        #expect(outcome.withLock { $0 } == "ETERM")
        context.terminate()  // returns: the only socket is closed
    }

    @Test func usingAClosedSocketIsATypedError() throws {
        let context = try Context()
        defer { context.terminate() }
        let socket = try Socket(context, .push)
        socket.close()
        #expect(throws: ZMQError.self) { try socket.bind("inproc://closed") }
    }
}

import Synchronization
