import ZeroMQ
import ZeroMQBenchmarkKit

/// The load side, the same for both topologies: a PUSH to the front and a SUB on the
/// publisher, made in the topology's context, driven from the benchmark's thread.
///
/// It sends the split form `[Echo~~bench~~Push~<id>~][64-byte body]` from two long-lived
/// messages (header by `reset(size:)` + write, body by `pool.fill`, as the roles' `Outbox`
/// does) and receives into two reused messages, so the client allocates nothing on the Swift
/// side. What libzmq allocates for it per request: the 55-byte header block
/// (`zmq_msg_init_size`, more than 33 bytes) and the 64-byte body block (below the pool's
/// 4 KiB threshold `fill` is `reset(size:)`).
final class PipelineClient {
    let push: Socket
    let sub: Socket
    let pool: BufferPool
    let header: [UInt8]
    let bodySize: Int
    let payload: UnsafeMutableRawBufferPointer
    var outHeader = Message()
    var outBody = Message()
    var inHeader = Message()
    var inBody = Message()

    init(topology: any Topology, bodySize: Int = 64, pool: BufferPool = .shared) throws {
        self.pool = pool
        self.bodySize = bodySize
        header = Array(requestHeader.utf8)
        payload = .allocate(byteCount: max(bodySize, 1), alignment: 64)
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        push = try Socket(topology.context, .push)
        sub = try Socket(topology.context, .sub)
        try push.setSendHighWaterMark(10_000)
        try sub.setReceiveHighWaterMark(10_000)
        try push.setSendTimeout(.seconds(10))
        try sub.subscribe(topology.answerPrefix)
        try sub.connect(topology.publishEndpoint)
        try push.connect(topology.frontEndpoint)
    }

    deinit { payload.deallocate() }

    func close() {
        outHeader.reset()
        outBody.reset()
        inHeader.reset()
        inBody.reset()
        push.close()
        sub.close()
    }

    /// Sends one request: header frame, then body frame.
    @inline(__always)
    func send() throws {
        let header = header
        outHeader.reset(size: header.count)
        outHeader.withUnsafeMutableBytes { out in header.withUnsafeBytes { out.copyMemory(from: $0) } }
        guard try push.send(&outHeader, more: true) == .sent else { throw BenchmarkFailure("send timed out") }
        let source = UnsafeRawBufferPointer(payload)
        let count = bodySize
        pool.fill(&outBody, count: count) { out in
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
        }
        guard try push.send(&outBody) == .sent else { throw BenchmarkFailure("send timed out") }
    }

    /// Receives one answer (header + body) into the reused messages; `false` on timeout.
    @inline(__always)
    func receive() throws -> Bool {
        guard try sub.receive(into: &inHeader) == .received else { return false }
        guard inHeader.more, try sub.receive(into: &inBody) == .received, !inBody.more else {
            throw BenchmarkFailure("an answer that is not header + body")
        }
        guard inBody.count == bodySize else {
            throw BenchmarkFailure("answer body of \(inBody.count) bytes, sent \(bodySize)")
        }
        return true
    }

    /// Sends probes until one comes back, i.e. until the subscription has reached the
    /// publisher (a PUB drops what it publishes before that), bounded at about 10 s; then
    /// takes in the answers to earlier probes that were still on their way, until 100 ms pass
    /// without one.
    func waitUntilLive(_ topology: any Topology) throws {
        try sub.setReceiveTimeout(.milliseconds(50))
        var live = false
        for _ in 0..<200 {
            try send()
            if try receive() {
                live = true
                break
            }
        }
        guard live else { throw BenchmarkFailure("no probe came back in 10 s (\(topology.diagnostics))") }
        try sub.setReceiveTimeout(.milliseconds(100))
        while try receive() {}
        try sub.setReceiveTimeout(.seconds(10))
    }
}
