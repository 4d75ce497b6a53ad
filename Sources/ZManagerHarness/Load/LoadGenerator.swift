import Synchronization
import ZManager
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Drives a pipeline with a point's load and measures what comes back.
///
/// Every message carries `[sequence][intended send time][actual send time]` at the start of
/// its body, so the answer alone tells its latency and lets lost, duplicated and reordered
/// messages be counted. Closed loop keeps N messages in flight on one thread. Open loop
/// schedules each message's intended send time up front on a sender thread and measures
/// from that time on a receiver thread, so a stall in the pipeline shows in the latency of
/// every message that should have been sent during it (coordinated-omission safe); the
/// uncorrected latency, from the actual send time, is kept alongside.
struct LoadGenerator {
    let point: PointSpec
    let pipeline: any PipelineUnderTest
    /// Requests go out as `<flow>~~harness~~Push~<id>~`; the bare pipeline forwards them as is.
    let flowName: String

    struct Outcome {
        var sent = 0
        var tracker = SequenceTracker(first: 0)
        var errors = 0
        var bytes = 0
        var elapsedNanoseconds: UInt64 = 0
        var sendElapsedNanoseconds: UInt64 = 0
        var recorder = LatencyRecorder()
        var generatorCPUNanoseconds: UInt64 = 0
        var processCPUNanoseconds: UInt64 = 0
        var errorSamples: [String] = []
    }

    // MARK: Wire helpers

    static let idLength = 36

    /// Writes a 36-byte id for `seq` (uuid-shaped, like DigitalPy's).
    @inline(__always)
    static func writeID(_ seq: UInt64, into out: UnsafeMutableRawBufferPointer) {
        let template = Array("00000000-0000-4000-8000-".utf8)
        out.copyBytes(from: template)
        let digits: StaticString = "0123456789abcdef"
        var value = seq
        for index in stride(from: idLength - 1, through: template.count, by: -1) {
            out[index] = digits.utf8Start[Int(value & 15)]
            value >>= 4
        }
    }

    /// Sends one request on `push`: split form, `[header][seq|intended|sent|padding]`.
    /// `header` and `payload` are the caller's long-lived messages, refilled in place so
    /// the generator allocates nothing per message on the Swift side.
    @inline(__always)
    static func send(on push: Socket, prefix: [UInt8], pool: BufferPool, seq: UInt64, intended: UInt64, size: Int,
                     header: inout Message, payload: inout Message, dontWait: Bool = false) throws(ZMQError) -> Bool {
        header.reset(size: prefix.count + idLength + 1)
        header.withUnsafeMutableBytes { out in
            prefix.withUnsafeBytes { out.copyMemory(from: $0) }
            writeID(seq, into: UnsafeMutableRawBufferPointer(rebasing: out[prefix.count..<(prefix.count + idLength)]))
            out[out.count - 1] = WireHeader.delimiter
        }
        let sent = monotonicNanoseconds()
        pool.fill(&payload, count: size) { out in
            out.storeBytes(of: seq, toByteOffset: 0, as: UInt64.self)
            out.storeBytes(of: intended, toByteOffset: 8, as: UInt64.self)
            out.storeBytes(of: sent, toByteOffset: 16, as: UInt64.self)
        }
        if try push.send(&header, more: true, dontWait: dontWait) == .wouldBlock { return false }
        _ = try push.send(&payload)
        return true
    }

    final class Connection {
        let push: Socket
        let sub: Socket
        let context: Context
        let ownsContext: Bool
        let requestPrefix: [UInt8]
        let resumePrefix: [UInt8]
        let resultPrefix: [UInt8]
        let parkedPrefix: [UInt8]
        let errorPrefix = Array(Topics.errorPrefix.utf8)
        var head = Message()
        var body = Message()
        var outHeader = Message()
        var outPayload = Message()
        let pool = BufferPool.shared

        init(pipeline: any PipelineUnderTest, flowName: String, transport: PointSpec.Transport, hwm: Int) throws {
            ownsContext = transport != .inproc
            context = ownsContext ? try Context() : pipeline.context
            push = try Socket(context, .push)
            try push.setSendHighWaterMark(hwm)
            try push.connect(pipeline.frontEndpoint)
            sub = try Socket(context, .sub)
            try sub.setReceiveHighWaterMark(max(hwm, 100_000))
            for prefix in pipeline.answerPrefixes { try sub.subscribe(prefix) }
            try sub.connect(pipeline.publishEndpoint)
            requestPrefix = Array("\(flowName)~~harness~~Push~".utf8)
            resumePrefix = Array("\(flowName)~ASYNC~harness~~Finish~".utf8)
            resultPrefix = Array(Topics.resultPrefix(flow: flowName).utf8)
            parkedPrefix = Array(Topics.parkedPrefix(flow: flowName).utf8)
        }

        func close() {
            push.close()
            sub.close()
            if ownsContext { context.terminate() }
        }

        /// Sends one request: split form, `[header][seq|intended|sent|padding]`.
        @inline(__always)
        func send(seq: UInt64, intended: UInt64, size: Int, dontWait: Bool = false) throws(ZMQError) -> Bool {
            try LoadGenerator.send(on: push, prefix: requestPrefix, pool: pool, seq: seq, intended: intended, size: size,
                                   header: &outHeader, payload: &outPayload, dontWait: dontWait)
        }

        enum Answer {
            case result(seq: UInt64, intended: UInt64, sent: UInt64, bytes: Int)
            case parked
            case error(String)
            case none
        }

        /// Receives one answer. A parked ASYNC request is answered (resumed) on `resume`.
        func receive(dontWait: Bool, resume: Socket?) throws(ZMQError) -> Answer {
            guard try sub.receive(into: &head, dontWait: dontWait) == .received else { return .none }
            let split = head.more
            if split { _ = try sub.receive(into: &body) }
            var bodyOffset = 0
            let kind: Int = head.withUnsafeBytes { frame in
                if frame.starts(with: errorPrefix) { return 2 }
                if !parkedPrefix.isEmpty && frame.starts(with: parkedPrefix) { return 1 }
                return 0
            }
            if !split {
                // Single form (only errors answer that way here): the body follows the header.
                bodyOffset = head.withUnsafeBytes { (try? WireHeader.parse($0))?.bodyOffset ?? $0.count }
            }
            switch kind {
            case 2:
                let text = split ? body.string : String(head.string.dropFirst(bodyOffset))
                return .error(head.withUnsafeBytes { String(decoding: $0.prefix(120), as: UTF8.self) } + " " + text)
            case 1:
                // Answer as the external party: same id, the body goes back as it came.
                guard let resume else { return .parked }
                let id: [UInt8] = head.withUnsafeBytes { frame in
                    guard let fields = try? WireHeader.parse(frame) else { return [] }
                    return Array(fields.bytes(.id, in: frame))
                }
                let prefix = resumePrefix
                var header = Message(size: prefix.count + id.count + 1)
                header.withUnsafeMutableBytes { out in
                    var bytes = prefix + id
                    bytes.append(WireHeader.delimiter)
                    bytes.withUnsafeBytes { out.copyMemory(from: $0) }
                }
                _ = try resume.send(&header, more: true)
                _ = try resume.send(&body)
                return .parked
            default:
                let bodyBytes = split ? body.count : head.count - bodyOffset
                guard bodyBytes >= 24 else { return .error("answer without harness body") }
                let read: (UnsafeRawBufferPointer) -> Answer = { bytes in
                    .result(seq: bytes.loadUnaligned(fromByteOffset: bodyOffset, as: UInt64.self),
                            intended: bytes.loadUnaligned(fromByteOffset: bodyOffset + 8, as: UInt64.self),
                            sent: bytes.loadUnaligned(fromByteOffset: bodyOffset + 16, as: UInt64.self),
                            bytes: bodyBytes)
                }
                if split {
                    bodyOffset = 0
                    return body.withUnsafeBytes(read)
                }
                return head.withUnsafeBytes(read)
            }
        }

        /// Sends probes until one comes back: the pipeline, its workers and this
        /// connection's subscriptions are then all live.
        func waitUntilAnswering(timeout: Duration, isAsync: Bool) throws -> Bool {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            let probe = UInt64.max - 1
            try sub.setReceiveTimeout(.milliseconds(50))
            defer { try? sub.setReceiveTimeout(nil) }
            while clock.now < deadline {
                _ = try send(seq: probe, intended: monotonicNanoseconds(), size: PayloadSizes.minimum)
                let retry = clock.now + .milliseconds(200)
                while clock.now < retry {
                    switch try receive(dontWait: false, resume: isAsync ? push : nil) {
                    case .result(let seq, _, _, _) where seq == probe: return true
                    default: continue
                    }
                }
            }
            return false
        }
    }

    // MARK: Running

    func run() throws -> Outcome {
        let connection = try Connection(pipeline: pipeline, flowName: flowName, transport: point.transport, hwm: point.highWaterMark)
        defer { connection.close() }
        guard try connection.waitUntilAnswering(timeout: .seconds(30), isAsync: point.flow == .async) else {
            throw HarnessError("the pipeline did not answer a probe within 30 s (\(point.id))")
        }
        // Let the probes' stragglers arrive and be ignored: they carry the probe sequence.
        switch point.load {
        case .closed(let inFlight):
            return try runClosed(connection, inFlight: inFlight)
        case .open(let rate):
            return try runOpen(connection, rate: { _ in rate })
        case .ramp(let from, let to):
            let measure = Double(point.measureDuration!.components.seconds) + Double(point.measureDuration!.components.attoseconds) * 1e-18
            return try runOpen(connection, rate: { secondsIntoMeasure in
                secondsIntoMeasure < 0 ? from : from + (to - from) * min(secondsIntoMeasure / measure, 1)
            })
        }
    }

    private func nanoseconds(_ d: Duration) -> UInt64 {
        UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    /// N in flight, one thread: send while under the window, then take answers.
    private func runClosed(_ c: Connection, inFlight window: Int) throws -> Outcome {
        var outcome = Outcome()
        var sizes = PayloadSizes(point.payload)
        let cpuStart = threadCPUNanoseconds()
        let processStart = processCPUNanoseconds()
        let start = monotonicNanoseconds()
        let measureStart = start + nanoseconds(point.warmup)
        let measureEnd = point.measureDuration.map { measureStart + nanoseconds($0) }
        var measureFirst: UInt64?
        var measureLast: UInt64?  // one past the last measured sequence
        var nextSeq: UInt64 = 0
        var outstanding = 0
        var lastMeasuredReceive = measureStart
        let resume = point.flow == .async ? c.push : nil
        var drainDeadline: UInt64?

        while true {
            let now = monotonicNanoseconds()
            if measureFirst == nil && now >= measureStart {
                measureFirst = nextSeq
                outcome.tracker = SequenceTracker(first: nextSeq)
            }
            if let first = measureFirst, measureLast == nil {
                let countDone = point.measureMessages.map { Int(nextSeq - first) >= $0 } ?? false
                if countDone || (measureEnd.map { now >= $0 } ?? false) {
                    measureLast = nextSeq
                    outcome.sent = Int(nextSeq - first)
                    drainDeadline = now + nanoseconds(point.drain)
                }
            }
            if let last = measureLast, let first = measureFirst {
                if outcome.tracker.unique + outcome.errors >= Int(last - first) { break }
                if now >= drainDeadline! { break }
            }
            // Fill the window (not after the measure phase ended).
            while measureLast == nil && outstanding < window {
                let size = sizes.next()
                guard try c.send(seq: nextSeq, intended: monotonicNanoseconds(), size: size, dontWait: true) else { break }
                nextSeq += 1
                outstanding += 1
                if measureFirst != nil { outcome.bytes += size }
            }
            // Take answers: block briefly when nothing else can be done.
            var first = true
            while true {
                let answer = try c.receive(dontWait: !first, resume: resume)
                first = false
                switch answer {
                case .none:
                    break
                case .parked:
                    continue
                case .error(let text):
                    outstanding -= 1
                    if measureFirst != nil {
                        outcome.errors += 1
                        if outcome.errorSamples.count < 5 { outcome.errorSamples.append(text) }
                    }
                    continue
                case .result(let seq, let intended, let sent, _):
                    if seq >= UInt64.max - 1 { continue }  // a late probe
                    outstanding -= 1
                    let received = monotonicNanoseconds()
                    if let mf = measureFirst, seq >= mf, measureLast.map({ seq < $0 }) ?? true {
                        if outcome.tracker.record(seq) {
                            outcome.recorder.record(intended: intended, sent: sent, received: received)
                            lastMeasuredReceive = received
                        }
                    }
                    continue
                }
                break
            }
            if outstanding >= window || measureLast != nil {
                // Nothing to send: wait for an answer without spinning.
                try c.sub.setReceiveTimeout(.milliseconds(20))
                switch try c.receive(dontWait: false, resume: resume) {
                case .result(let seq, let intended, let sent, _) where seq < UInt64.max - 1:
                    outstanding -= 1
                    let received = monotonicNanoseconds()
                    if let mf = measureFirst, seq >= mf, measureLast.map({ seq < $0 }) ?? true, outcome.tracker.record(seq) {
                        outcome.recorder.record(intended: intended, sent: sent, received: received)
                        lastMeasuredReceive = received
                    }
                case .error(let text):
                    outstanding -= 1
                    if measureFirst != nil {
                        outcome.errors += 1
                        if outcome.errorSamples.count < 5 { outcome.errorSamples.append(text) }
                    }
                default:
                    break
                }
                try c.sub.setReceiveTimeout(nil)
            }
        }
        outcome.elapsedNanoseconds = max(lastMeasuredReceive - measureStart, 1)
        outcome.sendElapsedNanoseconds = outcome.elapsedNanoseconds
        outcome.generatorCPUNanoseconds = threadCPUNanoseconds() - cpuStart
        outcome.processCPUNanoseconds = processCPUNanoseconds() - processStart
        return outcome
    }

    /// Open loop: a sender thread on a schedule, this thread receiving.
    private func runOpen(_ c: Connection, rate: @escaping @Sendable (Double) -> Double) throws -> Outcome {
        let shared = OpenLoopState()
        let warmup = nanoseconds(point.warmup)
        let measureDuration = point.measureDuration.map(nanoseconds)
        let measureMessages = point.measureMessages
        let sizes = PayloadSizes(point.payload)
        // The sender gets a PUSH socket of its own: sockets are used by one thread only.
        let senderPush = try Socket(c.context, .push)
        try senderPush.setSendHighWaterMark(point.highWaterMark)
        try senderPush.connect(pipeline.frontEndpoint)
        let requestPrefix = c.requestPrefix
        let pool = c.pool
        let processStart = processCPUNanoseconds()
        let start = monotonicNanoseconds()
        let measureStart = start + warmup
        shared.measureStart.store(measureStart, ordering: .releasing)

        let sender = SocketThread.start(name: "harness-send") {
            var sizes = sizes
            var header = Message()
            var payload = Message()
            defer { senderPush.close() }
            let cpuStart = threadCPUNanoseconds()
            var seq: UInt64 = 0
            var intended = start
            var bytes = 0
            var measureFirst: UInt64?
            do {
                while true {
                    let now = monotonicNanoseconds()
                    // Send every message whose intended time has come (catching up in a burst
                    // after a stall: their latency still counts from the schedule).
                    while intended <= now {
                        if measureFirst == nil && intended >= measureStart {
                            measureFirst = seq
                            shared.measureFirst.store(seq, ordering: .releasing)
                        }
                        if let first = measureFirst {
                            // The phase ends with its schedule, or with the wall clock when an
                            // overloaded pipeline holds the sender back behind its schedule.
                            let done = measureMessages.map { Int(seq - first) >= $0 }
                                ?? (intended >= measureStart + measureDuration! || monotonicNanoseconds() >= measureStart + measureDuration!)
                            if done {
                                shared.sent.store(Int(seq - first), ordering: .releasing)
                                shared.bytes.store(bytes, ordering: .relaxed)
                                shared.sendElapsed.store(monotonicNanoseconds() - measureStart, ordering: .relaxed)
                                shared.senderCPU.store(threadCPUNanoseconds() - cpuStart, ordering: .relaxed)
                                shared.senderDone.store(true, ordering: .releasing)
                                return
                            }
                        }
                        let size = sizes.next()
                        _ = try LoadGenerator.send(on: senderPush, prefix: requestPrefix, pool: pool, seq: seq,
                                                   intended: intended, size: size, header: &header, payload: &payload)
                        if measureFirst != nil { bytes += size }
                        seq += 1
                        let secondsIntoMeasure = (Double(intended) - Double(measureStart)) / 1e9
                        intended += UInt64(1e9 / max(rate(secondsIntoMeasure), 1))
                    }
                    let wait = Int64(bitPattern: intended &- monotonicNanoseconds())
                    if wait > 60_000 {
                        var pause = timespec(tv_sec: 0, tv_nsec: Int(min(wait - 50_000, 10_000_000)))
                        nanosleep(&pause, nil)
                    } else {
                        sched_yield()
                    }
                }
            } catch {
                shared.senderDone.store(true, ordering: .releasing)
            }
        }
        var outcome = Outcome()
        let cpuStart = threadCPUNanoseconds()
        var trackerStarted = false
        var lastMeasuredReceive = measureStart
        var drainDeadline: UInt64?
        // Resumes of parked requests go out on a socket of this thread's own.
        let resume: Socket? = point.flow == .async ? try Socket(c.context, .push) : nil
        if let resume { try resume.connect(pipeline.frontEndpoint) }
        defer { resume?.close() }
        try c.sub.setReceiveTimeout(.milliseconds(20))
        while true {
            if shared.senderDone.load(ordering: .acquiring) {
                let now = monotonicNanoseconds()
                if drainDeadline == nil { drainDeadline = now + nanoseconds(point.drain) }
                let sent = shared.sent.load(ordering: .acquiring)
                if outcome.tracker.unique + outcome.errors >= sent || now >= drainDeadline! { break }
            }
            let answer = try c.receive(dontWait: false, resume: resume)
            let first = shared.measureFirst.load(ordering: .acquiring)
            if !trackerStarted && first != UInt64.max {
                outcome.tracker = SequenceTracker(first: first)
                trackerStarted = true
            }
            switch answer {
            case .result(let seq, let intended, let sent, _):
                guard seq < UInt64.max - 1, trackerStarted, seq >= first else { continue }
                let received = monotonicNanoseconds()
                if outcome.tracker.record(seq) {
                    outcome.recorder.record(intended: intended, sent: sent, received: received)
                    lastMeasuredReceive = received
                }
            case .error(let text):
                if trackerStarted {
                    outcome.errors += 1
                    if outcome.errorSamples.count < 5 { outcome.errorSamples.append(text) }
                }
            case .parked, .none:
                continue
            }
        }
        sender.join()
        outcome.sent = shared.sent.load(ordering: .acquiring)
        outcome.bytes = shared.bytes.load(ordering: .relaxed)
        outcome.sendElapsedNanoseconds = max(shared.sendElapsed.load(ordering: .relaxed), 1)
        outcome.elapsedNanoseconds = max(lastMeasuredReceive - measureStart, 1)
        outcome.generatorCPUNanoseconds = threadCPUNanoseconds() - cpuStart + shared.senderCPU.load(ordering: .relaxed)
        outcome.processCPUNanoseconds = processCPUNanoseconds() - processStart
        return outcome
    }
}

/// What the open-loop sender tells the receiver.
final class OpenLoopState: Sendable {
    let measureStart = Atomic<UInt64>(0)
    /// The first measured sequence number (UInt64.max until the measure phase starts).
    let measureFirst = Atomic<UInt64>(UInt64.max)
    let sent = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let sendElapsed = Atomic<UInt64>(0)
    let senderCPU = Atomic<UInt64>(0)
    let senderDone = Atomic<Bool>(false)
}
