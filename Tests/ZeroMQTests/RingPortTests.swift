import Foundation
import Synchronization
import Testing
import ZeroMQ

private func numbered(_ value: Int) -> Message {
    var message = Message(size: 8)
    message.withUnsafeMutableBytes { $0.storeBytes(of: value, as: Int.self) }
    return message
}

private func number(_ message: borrowing Message) -> Int {
    message.withUnsafeBytes { $0.loadUnaligned(as: Int.self) }
}

/// The Integration Manager's shape: a PULL socket that reads one ring and its libzmq peers,
/// and a PUSH peer connected to it (`inproc://NAME`); `body` gets the ring, the PULL (5 s
/// receive timeout) and the peer.
private func withRingBesideSocket(_ name: String, _ body: (MessageRing, Socket, Socket) throws -> Void) throws {
    let context = try Context()
    defer { context.terminate() }
    let consumerBell = Doorbell()
    let ring = MessageRing(limit: 1000, consumerBell: consumerBell)
    let pull = try Socket(context, .pull)
    pull.attach(RingPort(collector: MessageCollector(rings: [ring], bell: consumerBell), alsoSocket: true))
    try pull.setReceiveTimeout(.seconds(5))
    try pull.bind("inproc://\(name)")
    let remote = try Socket(context, .push)
    try remote.connect("inproc://\(name)")
    try body(ring, pull, remote)
}

/// How a ring-backed socket ended, seen from the test's thread.
private final class Outcome: Sendable {
    let text = Mutex<String?>(nil)
}

@Suite("Sockets backed by in-process rings")
struct RingPortTests {
    @Test func aRingOnlyReceiveKeepsTheSocketsTimeoutAndFrameBoundaries() throws {
        let context = try Context()
        defer { context.terminate() }
        let bell = Doorbell()
        let ring = MessageRing(limit: 16, consumerBell: bell)
        let pull = try Socket(context, .pull)
        pull.attach(RingPort(collector: MessageCollector(rings: [ring], bell: bell)))
        try pull.setReceiveTimeout(.milliseconds(40))
        var message = Message()
        let clock = ContinuousClock()
        let started = clock.now
        #expect(try pull.receive(into: &message) == .wouldBlock)
        #expect(clock.now - started >= .milliseconds(35), "waited for the socket's own receive timeout")
        #expect(try pull.receive(into: &message, dontWait: true) == .wouldBlock)

        // `more` comes from the ring, not from libzmq's flag in the moved zmq_msg_t.
        var first = numbered(1), second = numbered(2)
        #expect(ring.write(&first, more: true) == .written)
        #expect(ring.write(&second) == .written)
        #expect(try pull.receive(into: &message) == .received)
        let firstMore = message.more
        #expect(number(message) == 1 && firstMore)
        #expect(try pull.receive(into: &message) == .received)
        let secondMore = message.more
        #expect(number(message) == 2 && !secondMore)
        pull.close()
        #expect(ring.isClosed, "closing the socket closes its rings: producers see the end")
    }

    @Test func aContextShutdownEndsAWaitOnARing() throws {
        let context = try Context()
        let bell = Doorbell()
        let ring = MessageRing(limit: 16, consumerBell: bell)
        let outcome = Outcome()
        let pull = try Socket(context, .pull)
        pull.attach(RingPort(collector: MessageCollector(rings: [ring], bell: bell)))
        let thread = SocketThread.start(name: "ring-waiter") {
            var message = Message()
            do throws(ZMQError) {
                _ = try pull.receive(into: &message)
                outcome.text.withLock { $0 = "received" }
            } catch {
                let terminated = error.code == .contextTerminated
                outcome.text.withLock { $0 = "\(terminated)" }
            }
            pull.close()
        }
        #expect(eventually(timeout: .seconds(10)) { bell.isArmed }, "the receiver is asleep")
        context.shutdown()
        #expect(thread.join(timeout: .seconds(10)))
        #expect(outcome.text.withLock { $0 } == "true", "ended with ETERM, like any socket of the context")
        context.terminate()
    }

    /// The Subject's case: rings to its own workers and a bound PUSH for workers elsewhere, one
    /// lane among the rings.
    @Test func sendsAreDealtOverTheRingsAndTheSocketsPeersExactlyOnce() throws {
        let context = try Context()
        defer { context.terminate() }
        let producerBell = Doorbell()
        let rings = (0..<2).map { _ in MessageRing(limit: 1000, producerBell: producerBell) }
        let push = try Socket(context, .push)
        push.attach(RingPort(dispatcher: MessageDispatcher(rings: rings, bell: producerBell), alsoSocket: true))
        try push.bind("inproc://ring-port-deal")
        let remote = try Socket(context, .pull)
        try remote.setReceiveTimeout(.seconds(5))
        try remote.connect("inproc://ring-port-deal")

        let count = 600
        for i in 0..<count {
            var message = numbered(i)
            #expect(try push.send(&message, dontWait: true) == .sent)
        }
        var seen: [Int] = []
        var perLane = [0, 0, 0]
        var message = Message()
        for (lane, ring) in rings.enumerated() {
            while case .frame = ring.read(into: &message) {
                seen.append(number(message))
                perLane[lane] += 1
            }
        }
        while try remote.receive(into: &message, dontWait: true) == .received {
            seen.append(number(message))
            perLane[2] += 1
        }
        #expect(seen.sorted() == Array(0..<count), "each message once")
        #expect(perLane.allSatisfy { $0 >= count / 6 }, "every lane takes a share: \(perLane)")
    }

    @Test func aFullRingAndAPeerlessSocketWouldBlockAndKeepTheMessage() throws {
        let context = try Context()
        defer { context.terminate() }
        let producerBell = Doorbell()
        let ring = MessageRing(limit: 2, producerBell: producerBell)
        let push = try Socket(context, .push)
        push.attach(RingPort(dispatcher: MessageDispatcher(rings: [ring], bell: producerBell), alsoSocket: true))
        try push.bind("inproc://ring-port-full")
        try push.setSendTimeout(.milliseconds(30))
        for i in 0..<2 {
            var message = numbered(i)
            #expect(try push.send(&message, dontWait: true) == .sent)
        }
        var refused = numbered(7)
        #expect(try push.send(&refused, dontWait: true) == .wouldBlock)
        #expect(try push.send(&refused) == .wouldBlock, "after the send timeout")
        #expect(number(refused) == 7)
    }

    /// The Subject's case when its own workers are gone (their rings closed): it waits for the
    /// socket's peers with its timeout, and a poller does not call the closed rings room.
    @Test func closedRingsAreNoRoomWhenTheSocketHasPeersToWaitFor() throws {
        let context = try Context()
        defer { context.terminate() }
        let producerBell = Doorbell()
        let rings = (0..<2).map { _ in MessageRing(limit: 4, producerBell: producerBell) }
        let push = try Socket(context, .push)
        push.attach(RingPort(dispatcher: MessageDispatcher(rings: rings, bell: producerBell), alsoSocket: true))
        try push.bind("inproc://ring-port-closed")
        try push.setSendTimeout(.milliseconds(30))
        for ring in rings { ring.close() }
        var message = numbered(3)
        #expect(try push.send(&message, dontWait: true) == .wouldBlock)
        let clock = ContinuousClock()
        let started = clock.now
        #expect(try push.send(&message) == .wouldBlock)
        #expect(clock.now - started >= .milliseconds(25), "waited for the send timeout")
        let poller = try Poller([(push, .writable)])
        #expect(try poller.poll(timeout: .milliseconds(20)) == 0)
        // A peer elsewhere connects: it takes the message.
        let remote = try Socket(context, .pull)
        try remote.setReceiveTimeout(.seconds(5))
        try remote.connect("inproc://ring-port-closed")
        try push.setSendTimeout(.seconds(5))
        #expect(try push.send(&message) == .sent)
        var received = Message()
        #expect(try remote.receive(into: &received) == .received)
        #expect(number(received) == 3)
    }

    /// The Integration Manager's case: the workers' rings and a bound PULL for everyone else,
    /// read fairly, a multipart message whole from either side.
    @Test func receivesComeFromTheRingsAndTheSocketsPeersWhole() throws {
        try withRingBesideSocket("ring-port-collect") { ring, pull, remote throws in
            let count = 200
            for i in 0..<count {
                var head = numbered(1_000_000 + i), tail = numbered(2_000_000 + i)
                #expect(try remote.send(&head, more: true) == .sent)
                #expect(try remote.send(&tail) == .sent)
                var local = numbered(i)
                #expect(ring.write(&local) == .written)
            }
            var message = Message()
            var local: [Int] = [], remoteHeads: [Int] = []
            for _ in 0..<(2 * count) {
                #expect(try pull.receive(into: &message) == .received)
                let value = number(message)
                if value >= 1_000_000 {
                    let headMore = message.more
                    #expect(headMore)
                    #expect(try pull.receive(into: &message) == .received)
                    let tailMore = message.more
                    #expect(number(message) == value + 1_000_000 && !tailMore, "the second frame right after the first")
                    remoteHeads.append(value - 1_000_000)
                } else {
                    let more = message.more
                    #expect(!more)
                    local.append(value)
                }
            }
            #expect(local == Array(0..<count))
            #expect(remoteHeads == Array(0..<count))
            #expect(try pull.receive(into: &message, dontWait: true) == .wouldBlock)
        }
    }

    @Test func aPollerWakesForARingAndSeesItsRoom() throws {
        let context = try Context()
        defer { context.terminate() }
        let consumerBell = Doorbell(), producerBell = Doorbell()
        let inbound = MessageRing(limit: 4, consumerBell: consumerBell)
        let outbound = MessageRing(limit: 1, producerBell: producerBell)
        let pull = try Socket(context, .pull)
        pull.attach(RingPort(collector: MessageCollector(rings: [inbound], bell: consumerBell)))
        let push = try Socket(context, .push)
        push.attach(RingPort(dispatcher: MessageDispatcher(rings: [outbound], bell: producerBell)))
        let poller = try Poller([(pull, .readable), (push, .writable)])

        #expect(try poller.poll(timeout: .zero) == 1)
        #expect(!poller.isReadable(0) && poller.events(at: 1).contains(.writable))
        var one = numbered(1)
        #expect(try push.send(&one) == .sent)
        #expect(try poller.poll(timeout: .milliseconds(20)) == 0, "nothing to read, no room to write")

        // Another thread publishes while the poller sleeps on the bells.
        let writer = SocketThread.start(name: "ring-writer") {
            guard eventually(timeout: .seconds(10), { consumerBell.isArmed }) else { return }
            var message = numbered(2)
            _ = inbound.write(&message)
        }
        #expect(try poller.poll(timeout: .seconds(10)) == 1)
        #expect(poller.isReadable(0))
        #expect(writer.join(timeout: .seconds(10)))
        var message = Message()
        #expect(try pull.receive(into: &message) == .received)
        #expect(number(message) == 2)
        // Room again once the consumer of the full ring reads.
        #expect(outbound.read(into: &message) == .frame(more: false))
        #expect(try poller.poll(timeout: .zero) == 1 && poller.events(at: 1).contains(.writable))
    }
    /// A worker's receive reads its one ring directly, and its wait reads it through the
    /// collector: a head read one way and the rest the other used to leave the collector
    /// "mid-message" for ever, so it always had news, and the worker spun instead of sleeping
    /// (two spinning workers on two cores stalled every split-form request by a time slice).
    @Test func oneRingReadEitherWayLeavesNoMessageUnderWay() throws {
        let context = try Context()
        defer { context.terminate() }
        let bell = Doorbell()
        let ring = MessageRing(limit: 16, consumerBell: bell)
        let collector = MessageCollector(rings: [ring], bell: bell)
        let pull = try Socket(context, .pull)
        pull.attach(RingPort(collector: collector))
        var head = numbered(1), body = numbered(2)
        #expect(ring.write(&head, more: true) == .written)
        #expect(ring.write(&body) == .written)
        var message = Message()
        #expect(collector.read(into: &message) == .frame(more: true), "the head, as the port's wait reads it")
        #expect(collector.isMidMessage)
        #expect(try pull.receive(into: &message, dontWait: true) == .received, "the body, as the port reads it")
        #expect(number(message) == 2)
        #expect(!collector.isMidMessage)
        #expect(!collector.hasPublished, "nothing is left to read: a wait sleeps")
        let poller = try Poller([(pull, .readable)])
        #expect(try poller.poll(timeout: .zero) == 0)
    }

    /// The same for a worker's one output ring: written through the dispatcher (its wait) and
    /// directly (its send), the dispatcher still sees the ring's real room.
    @Test func oneRingWrittenEitherWayReportsItsRealRoom() throws {
        let context = try Context()
        defer { context.terminate() }
        let producerBell = Doorbell()
        let ring = MessageRing(limit: 2, producerBell: producerBell)
        let dispatcher = MessageDispatcher(rings: [ring], bell: producerBell)
        let push = try Socket(context, .push)
        push.attach(RingPort(dispatcher: dispatcher))
        var first = numbered(1), second = numbered(2), third = numbered(3)
        #expect(dispatcher.write(&first, more: true) == .written, "the head, as the port's wait writes it")
        #expect(dispatcher.isMidMessage)
        #expect(try push.send(&second, dontWait: true) == .sent, "the rest, as the port writes it")
        #expect(!dispatcher.isMidMessage)
        #expect(!dispatcher.hasRoom, "two frames in a ring of two: full")
        #expect(try push.send(&third, dontWait: true) == .wouldBlock)
        var message = Message()
        #expect(ring.read(into: &message) == .frame(more: true))
        #expect(dispatcher.hasRoom)
    }

    /// One ring beside the socket (the IM with one worker): a ring message's frames come one
    /// after the other, never with the socket's messages between them.
    @Test func oneRingBesideTheSocketKeepsItsMessagesWhole() throws {
        try withRingBesideSocket("ring-port-one-ring") { ring, pull, remote throws in
            let count = 200
            for i in 0..<count {
                var single = numbered(1_000_000 + i)
                #expect(try remote.send(&single) == .sent)
                var head = numbered(i), tail = numbered(2_000_000 + i)
                #expect(ring.write(&head, more: true) == .written)
                #expect(ring.write(&tail) == .written)
            }
            var message = Message()
            var local: [Int] = [], remoteValues: [Int] = []
            for _ in 0..<(2 * count) {
                #expect(try pull.receive(into: &message) == .received)
                let value = number(message)
                let more = message.more
                if value >= 1_000_000 {
                    #expect(!more)
                    remoteValues.append(value - 1_000_000)
                } else {
                    #expect(more)
                    #expect(try pull.receive(into: &message) == .received)
                    let tailMore = message.more
                    #expect(number(message) == value + 2_000_000 && !tailMore, "the ring's second frame right after its first")
                    local.append(value)
                }
            }
            #expect(local == Array(0..<count))
            #expect(remoteValues == Array(0..<count))
        }
    }
}
