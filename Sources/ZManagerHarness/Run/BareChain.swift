public import ZeroMQ
import Dispatch

/// A bare libzmq pipeline with no ZManager logic: source → (forwarders) → sink, each stage
/// on its own thread in one process, all PUSH/PULL.
///
/// It is the calibration reference for every measurement: ZManager's throughput is
/// reported as a ratio to this chain with the same hop count, transport and size, measured
/// in the same run, because ratios survive a noisy machine and absolute numbers do not.
public struct BareChain: Sendable {
    public enum Transport: String, Sendable, CaseIterable, Codable {
        case inproc, ipc, tcp
    }

    public var transport: Transport
    /// Socket hops between source and sink (1 = direct PUSH → PULL).
    public var hops: Int
    public var messageSize: Int
    public var messageCount: Int
    /// Send bodies through the zero-copy pool instead of copying them.
    public var zeroCopy: Bool
    /// Send/receive high-water mark of every socket.
    public var highWaterMark: Int

    public init(transport: Transport, hops: Int = 1, messageSize: Int = 64, messageCount: Int = 1_000_000,
                zeroCopy: Bool = false, highWaterMark: Int = 1000) {
        precondition(hops >= 1 && messageCount > 0 && messageSize >= 0)
        self.transport = transport
        self.hops = hops
        self.messageSize = messageSize
        self.messageCount = messageCount
        self.zeroCopy = zeroCopy
        self.highWaterMark = highWaterMark
    }

    public struct Result: Sendable {
        public var messages: Int
        public var seconds: Double
        public var messagesPerSecond: Double { Double(messages) / seconds }
        public var megabytesPerSecond: Double
    }

    /// Runs the chain once and returns the sink's throughput, timed from the first message
    /// received to the last.
    public func run(pool: BufferPool = .shared) throws -> Result {
        let context = try Context()
        defer { context.terminate() }
        let tag = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        func endpoint(_ hop: Int) -> String {
            switch transport {
            case .inproc: "inproc://bare-\(tag)-\(hop)"
            case .ipc: "ipc:///tmp/zmanager-bare-\(tag)-\(hop).sock"
            case .tcp: "tcp://127.0.0.1:*"
            }
        }

        // Sink binds hop (hops-1)'s far end; each forwarder binds its input.
        let sink = try Socket(context, .pull)
        try sink.setReceiveHighWaterMark(highWaterMark)
        try sink.bind(endpoint(hops))
        var downstream = try sink.lastEndpoint
        var forwarders: [SocketThread] = []
        // Sockets close with LINGER 0, which drops whatever is still queued: every stage
        // keeps its sockets open until the sink has everything (never rely on linger).
        let sinkDone = DispatchSemaphore(value: 0)
        for hop in stride(from: hops - 1, through: 1, by: -1) {
            let input = try Socket(context, .pull)
            try input.setReceiveHighWaterMark(highWaterMark)
            try input.bind(endpoint(hop))
            let output = try Socket(context, .push)
            try output.setSendHighWaterMark(highWaterMark)
            try output.connect(downstream)
            downstream = try input.lastEndpoint
            let count = messageCount
            forwarders.append(SocketThread.start(name: "bare-fwd-\(hop)") {
                var scratch = Message()
                do {
                    for _ in 0..<count { _ = try input.forward(to: output, using: &scratch) }
                } catch {}
                sinkDone.wait()
                input.close()
                output.close()
            })
        }
        let source = try Socket(context, .push)
        try source.setSendHighWaterMark(highWaterMark)
        try source.connect(downstream)
        let (count, size, zeroCopy) = (messageCount, messageSize, zeroCopy)
        let sender = SocketThread.start(name: "bare-source") {
            do {
                for i in 0..<count {
                    var message = zeroCopy
                        ? pool.pooledMessage(count: size) { if $0.count >= 8 { $0.storeBytes(of: i, as: Int.self) } }
                        : Message(size: size)
                    _ = try source.send(&message)
                }
            } catch {}
            sinkDone.wait()
            source.close()
        }

        var message = Message()
        let clock = ContinuousClock()
        _ = try sink.receive(into: &message)
        let start = clock.now
        for _ in 1..<count { _ = try sink.receive(into: &message) }
        let elapsed = clock.now - start
        message.reset()
        for _ in 0...forwarders.count { sinkDone.signal() }
        sender.join()
        for forwarder in forwarders { forwarder.join() }
        sink.close()
        let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, 1e-9)
        let timed = max(count - 1, 1)
        return Result(messages: timed, seconds: seconds,
                      megabytesPerSecond: Double(timed) * Double(size) / seconds / 1e6)
    }
}
