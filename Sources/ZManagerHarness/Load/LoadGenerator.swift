import CBareTopology
import Histogram
import Synchronization
import ZManager
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Where the load generator sends and listens; `Sendable`, so the generator's own threads
/// (never the caller's) create and use its sockets.
struct LoadTarget: Sendable {
    var frontEndpoint: String
    var publishEndpoint: String
    /// The pipeline's context: inproc clients must share it; others make their own.
    var context: Context
    var wire: PipelineWire
    /// The pipeline's processes, for the per-stage CPU snapshots.
    var children: [StageCPU.Child]
    /// A load agent's number (1…), written into the first 8 hex digits of every request id so
    /// that it subscribes to its own answers only and ignores the other agents' errors and
    /// park notices; 0: the only generator, the ids as the C reference client sends them.
    var idTag = 0

    init(_ pipeline: any PipelineUnderTest) {
        frontEndpoint = pipeline.frontEndpoint
        publishEndpoint = pipeline.publishEndpoint
        context = pipeline.context
        wire = pipeline.wire
        children = pipeline.stageProcesses.map { StageCPU.Child(pid: $0.process.processIdentifier, stage: $0.stage) }
    }

    init(frontEndpoint: String, publishEndpoint: String, context: Context, wire: PipelineWire, idTag: Int) {
        self.frontEndpoint = frontEndpoint
        self.publishEndpoint = publishEndpoint
        self.context = context
        self.wire = wire
        children = []
        self.idTag = idTag
    }

    /// The request id's template: ``LoadGenerator/idTemplate`` with ``idTag`` in front.
    var idTemplate: [UInt8] {
        guard idTag > 0 else { return LoadGenerator.idTemplate }
        let tag = Array(String(idTag, radix: 16).utf8)
        return Array(repeating: UInt8(ascii: "0"), count: 8 - tag.count) + tag + LoadGenerator.idTemplate.dropFirst(8)
    }

    /// What the generator's SUB subscribes to: the pipeline's answers, its results narrowed
    /// to this generator's ids when it has a tag.
    var subscriptions: [[UInt8]] {
        wire.subscriptions.map { Array($0.utf8) }.map { prefix in
            idTag > 0 && prefix == wire.resultPrefix ? prefix + idTemplate.prefix(8) : prefix
        }
    }
}

/// Drives a pipeline with a point's load and measures what comes back.
///
/// Every message carries `[sequence][intended send time][actual send time]` at the start of
/// its body, so the answer alone tells its latency and lets lost, duplicated and reordered
/// messages be counted. The generator does no more per message than a C client would: one
/// header template copied, twelve hex digits of the id written, one clock read per send and
/// per receive, one histogram increment.
///
/// Closed loop keeps N messages in flight on one thread (`gen-loop`). Open loop schedules
/// each message's intended send time on a sender thread (`gen-send`, sleeping until just
/// before the time and spinning the last microseconds) and measures from that time on a
/// receiver thread (`gen-loop`), so a stall shows in the latency of every message that
/// should have been sent during it (coordinated-omission safe); the uncorrected latency,
/// from the actual send time, and the send delay are kept alongside.
struct LoadGenerator {
    let point: PointSpec
    let target: LoadTarget

    init(point: PointSpec, pipeline: any PipelineUnderTest) {
        self.point = point
        target = LoadTarget(pipeline)
    }

    struct Outcome {
        var sent = 0
        var tracker = SequenceTracker(first: 0)
        var errors = 0
        var bytes = 0
        var elapsedNanoseconds: UInt64 = 0
        var sendElapsedNanoseconds: UInt64 = 0
        var recorder = LatencyRecorder()
        /// Open loop: scheduled during the measure phase and never sent.
        var unsent = 0
        /// Open loop: actual − intended send time of the measured messages.
        var sendDelay: Histogram<UInt64>?
        var cpuStart: StageCPU.Snapshot?
        var cpuEnd: StageCPU.Snapshot?
        var errorSamples: [String] = []
        /// The first sequence number sent in each interval of the measure phase (by send time;
        /// open loop: by intended send time), for the interval series' sent and unanswered counts.
        var sendBoundaries: [UInt64] = []
    }

    // MARK: Wire helpers

    static let idLength = 36
    /// The id's template; the sequence number goes into its last 12 hex digits.
    static let idTemplate = Array("00000000-0000-4000-8000-000000000000".utf8)
    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Copies `prefix + id + "~"` into `out` (at least `header.count` bytes), with `seq` in
    /// the id's last 12 hex digits when given.
    @inline(__always)
    static func writeHeader(_ header: [UInt8], seq: UInt64?, into out: UnsafeMutableRawPointer) {
        header.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard var value = seq else { return }
        var index = header.count - 2  // the id's last digit
        hexDigits.withUnsafeBufferPointer { digits in
            for _ in 0..<12 {
                out.storeBytes(of: digits[Int(value & 15)], toByteOffset: index, as: UInt8.self)
                value >>= 4
                index -= 1
            }
        }
    }

    @inline(__always)
    static func writeStamps(_ out: UnsafeMutableRawPointer, seq: UInt64, intended: UInt64, sent: UInt64) {
        out.storeBytes(of: seq, as: UInt64.self)
        out.storeBytes(of: intended, toByteOffset: 8, as: UInt64.self)
        out.storeBytes(of: sent, toByteOffset: 16, as: UInt64.self)
    }

    /// A thread's reusable messages, owned by its loop and passed `inout`: held in a class
    /// they would cost a dynamic exclusivity check on every access (measured under callgrind:
    /// about 900 instructions per message, a quarter of the generator's cost).
    struct Frames: ~Copyable {
        var header = Message()
        var payload = Message()
    }

    /// One thread's sending side: a PUSH socket and the request template.
    final class Sender {
        let push: Socket
        let form: WireForm
        /// `requestPrefix + id template + "~"`.
        let header: [UInt8]
        /// Whether every request gets its own id (ASYNC flows park and resume by id); other
        /// flows send the template's constant id, as the C reference client does.
        let uniqueIDs: Bool
        let pool = BufferPool.shared

        init(context: Context, target: LoadTarget, highWaterMark: Int, uniqueIDs: Bool) throws {
            self.uniqueIDs = uniqueIDs
            push = try Socket(context, .push)
            try push.setSendHighWaterMark(highWaterMark)
            try push.connect(target.frontEndpoint)
            form = target.wire.form
            header = target.wire.requestPrefix + target.idTemplate + [WireHeader.delimiter]
        }

        /// Sends one request stamped now (intended = actual send time: closed loop); false
        /// when the socket is at its HWM and `dontWait` is set (then nothing was sent).
        @inline(__always)
        func send(seq: UInt64, size: Int, dontWait: Bool = false, using out: inout Frames) throws(ZMQError) -> Bool {
            let now = monotonicNanoseconds()
            prepare(seq: seq, intended: now, sent: now, size: size, &out)
            return try transmit(dontWait: dontWait, &out)
        }

        /// Sends one request that was due at `intended`; returns the actual send time.
        @inline(__always)
        func send(seq: UInt64, scheduledAt intended: UInt64, size: Int, using out: inout Frames) throws(ZMQError) -> UInt64 {
            let now = monotonicNanoseconds()
            prepare(seq: seq, intended: intended, sent: now, size: size, &out)
            _ = try transmit(dontWait: false, &out)
            return now
        }

        @inline(__always)
        private func prepare(seq: UInt64, intended: UInt64, sent: UInt64, size: Int, _ out: inout Frames) {
            let template = header
            let id: UInt64? = uniqueIDs ? seq : nil
            switch form {
            case .single:
                out.header.reset(size: template.count + size)
                out.header.withUnsafeMutableBytes { bytes in
                    LoadGenerator.writeHeader(template, seq: id, into: bytes.baseAddress!)
                    LoadGenerator.writeStamps(bytes.baseAddress! + template.count, seq: seq, intended: intended, sent: sent)
                }
            case .split:
                out.header.reset(size: template.count)
                out.header.withUnsafeMutableBytes { LoadGenerator.writeHeader(template, seq: id, into: $0.baseAddress!) }
                pool.fill(&out.payload, count: size) { LoadGenerator.writeStamps($0.baseAddress!, seq: seq, intended: intended, sent: sent) }
            }
        }

        @inline(__always)
        private func transmit(dontWait: Bool, _ out: inout Frames) throws(ZMQError) -> Bool {
            if try push.send(&out.header, more: form == .split, dontWait: dontWait) == .wouldBlock { return false }
            if form == .split { _ = try push.send(&out.payload) }
            return true
        }
    }

    /// The receiving side (and, in closed loop, the sending side too).
    final class Connection {
        let sub: Socket
        let sender: Sender
        let context: Context
        let ownsContext: Bool
        let wire: PipelineWire
        let resumePrefix: [UInt8]
        let errorPrefix = Array(Topics.errorPrefix.utf8)
        /// The first 8 digits of this generator's ids when it shares the pipeline with other
        /// agents (``LoadTarget/idTag``); empty otherwise.
        let idTag: [UInt8]
        /// Where a single-form result's body starts.
        let resultBodyOffset: Int

        /// With the stages as threads, the generator shares their context, as a client of the
        /// C reference program does: a context of its own adds an I/O thread and its wake-ups
        /// to every message (measured: +15–20 µs p50 at one in flight over ipc on 2 vCPUs).
        /// With the stages in processes it has its own, as a separate service would.
        init(target: LoadTarget, flowName: String, point: PointSpec, hwm: Int) throws {
            ownsContext = point.transport != .inproc && point.deployment == .processes
            // A secured node's context holds the keys a client presents (topology.security: curve).
            let security = target.context.security.map {
                CurveSecurity(server: nil, serverKey: $0.serverKey, client: $0.client, zapDomain: $0.zapDomain)
            }
            context = ownsContext ? try Context(threadNamePrefix: StageCPU.generatorContextPrefix, security: security) : target.context
            sender = try Sender(context: context, target: target, highWaterMark: hwm, uniqueIDs: point.flow == .async)
            sub = try Socket(context, .sub)
            try sub.setReceiveHighWaterMark(max(hwm, 100_000))
            for prefix in target.subscriptions { try sub.subscribe(prefix) }
            idTag = target.idTag > 0 ? Array(target.idTemplate.prefix(8)) : []
            try sub.connect(target.publishEndpoint)
            wire = target.wire
            resumePrefix = Array("\(flowName)~ASYNC~harness~~Finish~".utf8)
            resultBodyOffset = wire.resultPrefix.count + LoadGenerator.idLength + 1
        }

        func close() {
            sender.push.close()
            sub.close()
            if ownsContext { context.terminate() }
        }

        enum Answer {
            case result(seq: UInt64, intended: UInt64, sent: UInt64)
            case parked
            /// Another agent's error or park notice (see ``LoadTarget/idTag``): not ours to count.
            case foreign
            case error(String)
            case none
        }

        /// Receives one answer. A parked ASYNC request is answered (resumed) on `resume`.
        @inline(__always)
        func receive(dontWait: Bool, resume: Socket?, into frames: inout Frames) throws(ZMQError) -> Answer {
            guard try sub.receive(into: &frames.header, dontWait: dontWait) == .received else { return .none }
            let split = frames.header.more
            if split { _ = try sub.receive(into: &frames.payload) }
            let isResult = frames.header.withUnsafeBytes { frame in
                wire.resultPrefix.withUnsafeBytes { prefix in
                    frame.count >= prefix.count && memcmp(frame.baseAddress!, prefix.baseAddress!, prefix.count) == 0
                }
            }
            if isResult {
                if split { return frames.payload.withUnsafeBytes { Self.read($0, at: 0) } }
                return frames.header.withUnsafeBytes { frame in
                    // The id has the generator's fixed length; anything else is parsed.
                    let offset = resultBodyOffset
                    if frame.count >= offset && frame[offset - 1] == WireHeader.delimiter { return Self.read(frame, at: offset) }
                    guard let fields = try? WireHeader.parse(frame) else { return .error("unparsable answer header") }
                    return Self.read(frame, at: fields.bodyOffset)
                }
            }
            return slowAnswer(split: split, resume: resume, &frames)
        }

        @inline(__always)
        static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Answer {
            guard bytes.count >= offset + PayloadSizes.minimum else { return .error("answer without the harness's body") }
            return .result(seq: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                           intended: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                           sent: bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
        }

        /// Errors and ASYNC park notices: rare, allowed to allocate.
        private func slowAnswer(split: Bool, resume: Socket?, _ frames: inout Frames) -> Answer {
            let head = frames.header.bytes
            let body = frames.payload.bytes
            let headText = String(decoding: head.prefix(120), as: UTF8.self)
            if !idTag.isEmpty, let id = head.withUnsafeBytes({ frame in (try? WireHeader.parse(frame)).map { Array($0.bytes(.id, in: frame)) } }),
               !id.isEmpty, !id.starts(with: idTag) {
                return .foreign
            }
            if head.starts(with: errorPrefix) {
                let text: String
                if split {
                    text = String(decoding: body, as: UTF8.self)
                } else {
                    let offset = head.withUnsafeBytes { (try? WireHeader.parse($0))?.bodyOffset ?? $0.count }
                    text = String(decoding: head.dropFirst(offset), as: UTF8.self)
                }
                return .error(headText + " " + text)
            }
            if !wire.parkedPrefix.isEmpty && head.starts(with: wire.parkedPrefix) {
                // Answer as the external party: same id, the body goes back as it came.
                guard let resume else { return .parked }
                let (id, bodyOffset): ([UInt8], Int) = head.withUnsafeBytes { frame in
                    guard let fields = try? WireHeader.parse(frame) else { return ([], frame.count) }
                    return (Array(fields.bytes(.id, in: frame)), fields.bodyOffset)
                }
                do {
                    // In the form the request came in: two frames, or one with the body after the header.
                    if split {
                        var header = Message(copying: resumePrefix + id + [WireHeader.delimiter])
                        _ = try resume.send(&header, more: true)
                        _ = try resume.send(&frames.payload)
                    } else {
                        var frame = Message(copying: resumePrefix + id + [WireHeader.delimiter] + head[bodyOffset...])
                        _ = try resume.send(&frame)
                    }
                } catch {
                    return .error("could not resume a parked request: \(error)")
                }
                return .parked
            }
            return .error("unexpected answer: " + headText)
        }

        /// Sends probes until one comes back: the pipeline, its workers and this
        /// connection's subscriptions are then all live.
        func waitUntilAnswering(timeout: Duration, isAsync: Bool) throws -> Bool {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            var frames = Frames()
            var probe = LoadGenerator.probe
            try sub.setReceiveTimeout(.milliseconds(50))
            while clock.now < deadline {
                // Each probe its own sequence number, so its own id: a probe whose park notice
                // went out before the subscription arrived stays parked under its id, and a
                // second request with that id would be refused.
                _ = try sender.send(seq: probe, size: PayloadSizes.minimum, using: &frames)
                probe += 1
                let retry = clock.now + .milliseconds(200)
                while clock.now < retry {
                    switch try receive(dontWait: false, resume: isAsync ? sender.push : nil, into: &frames) {
                    case .result(let seq, _, _) where seq >= LoadGenerator.probe: return true
                    default: continue
                    }
                }
            }
            return false
        }
    }

    /// The first readiness probe's sequence number, the next ones count up from it; answers
    /// from it on are never measured (30 s of probes every 200 ms take 150 of the 4096).
    static let probe = UInt64.max - 4096

    // MARK: Running

    /// Runs the point's load on the generator's own threads and returns what they saw.
    ///
    /// - Parameter connected: called on the generator's thread once the pipeline answered a
    ///   probe, before the warmup starts; a load agent waits there for its coordinator's
    ///   start, and a throw ends the run before any load.
    func run(connected: (@Sendable () throws -> Void)? = nil) throws -> Outcome {
        let box = OutcomeBox()
        let (point, target) = (point, target)
        let thread = SocketThread.start(name: "gen-loop") {
            box.result = Result { try LoadGenerator(point: point, target: target).runHere(connected: connected) }
        }
        thread.join()
        return try box.result!.get()
    }

    /// A generator for a target that is no local pipeline (a load agent's).
    init(point: PointSpec, target: LoadTarget) {
        self.point = point
        self.target = target
    }

    private func runHere(connected: (@Sendable () throws -> Void)?) throws -> Outcome {
        let flowName = BenchmarkFlows.name(point.flow)
        let connection = try Connection(target: target, flowName: flowName, point: point, hwm: point.highWaterMark)
        defer { connection.close() }
        guard try connection.waitUntilAnswering(timeout: .seconds(30), isAsync: point.flow == .async) else {
            throw HarnessError("the pipeline did not answer a probe within 30 s (\(point.id))")
        }
        try connected?()
        try connection.sub.setReceiveTimeout(.milliseconds(20))
        switch point.load {
        case .closed(let inFlight):
            return try runClosed(connection, inFlight: inFlight)
        case .open(let rate):
            return try runOpen(connection, rate: { _ in rate })
        case .ramp(let from, let to):
            let measure = Self.seconds(point.measureDuration!)
            return try runOpen(connection, rate: { secondsIntoMeasure in
                secondsIntoMeasure < 0 ? from : from + (to - from) * min(secondsIntoMeasure / measure, 1)
            })
        case .search:
            preconditionFailure("a search is run as open-loop probes (ScenarioRunner.measureSearchPoint)")
        }
    }

    static func nanoseconds(_ d: Duration) -> UInt64 {
        UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

    private func snapshot() -> StageCPU.Snapshot { .take(children: target.children) }

    /// N in flight, one thread: fill the window, then take answers (block for the first,
    /// then drain without blocking), as the C reference client does.
    private func runClosed(_ c: Connection, inFlight window: Int) throws -> Outcome {
        var outcome = Outcome()
        var sizes = PayloadSizes(point.payload)
        let start = monotonicNanoseconds()
        let measureStart = start + Self.nanoseconds(point.warmup)
        let measureEnd = point.measureDuration.map { measureStart + Self.nanoseconds($0) }
        var measureFirst: UInt64?
        var measureLast: UInt64?  // one past the last measured sequence
        var nextSeq: UInt64 = 0
        var outstanding = 0
        var lastMeasuredReceive = measureStart
        let resume = point.flow == .async ? c.sender.push : nil
        var drainDeadline: UInt64 = .max
        var now = start
        var out = Frames()
        var answers = Frames()
        let intervalLength = Self.nanoseconds(point.interval)
        var nextSendBoundary = UInt64.max

        while true {
            if measureFirst == nil && now >= measureStart {
                measureFirst = nextSeq
                outcome.tracker = SequenceTracker(first: nextSeq)
                outcome.cpuStart = snapshot()
                outcome.recorder.startIntervals(at: measureStart, length: intervalLength,
                                                wallClock: wallClockSeconds() - Double(monotonicNanoseconds() - measureStart) / 1e9)
                outcome.sendBoundaries = [nextSeq]
                nextSendBoundary = measureStart + intervalLength
            }
            // A boundary opens an interval for sends: none at or after the measure phase's end.
            while measureLast == nil && now >= nextSendBoundary && measureEnd.map({ nextSendBoundary < $0 }) ?? true {
                outcome.sendBoundaries.append(nextSeq)
                nextSendBoundary += intervalLength
            }
            if let first = measureFirst, measureLast == nil {
                let countDone = point.measureMessages.map { Int(nextSeq - first) >= $0 } ?? false
                if countDone || (measureEnd.map { now >= $0 } ?? false) {
                    measureLast = nextSeq
                    outcome.sent = Int(nextSeq - first)
                    drainDeadline = now + Self.nanoseconds(point.drain)
                }
            }
            if measureLast != nil && (outcome.tracker.unique + outcome.errors >= outcome.sent || now >= drainDeadline) {
                outcome.cpuEnd = snapshot()
                break
            }
            // Fill the window (not after the measure phase ended).
            while measureLast == nil && outstanding < window {
                let size = sizes.next()
                guard try c.sender.send(seq: nextSeq, size: size, dontWait: true, using: &out) else { break }
                nextSeq += 1
                outstanding += 1
                if measureFirst != nil { outcome.bytes += size }
                if point.measureMessages != nil, let first = measureFirst, Int(nextSeq - first) >= point.measureMessages! { break }
            }
            // Take answers: wait for the first (up to the 20 ms receive timeout), then every one queued.
            var dontWait = false
            receiving: while true {
                let answer = try c.receive(dontWait: dontWait, resume: resume, into: &answers)
                dontWait = true
                switch answer {
                case .none:
                    break receiving
                case .parked, .foreign:
                    continue
                case .error(let text):
                    outstanding -= 1
                    if measureFirst != nil {
                        outcome.errors += 1
                        outcome.recorder.countError(received: monotonicNanoseconds())
                        if outcome.errorSamples.count < 5 { outcome.errorSamples.append(text) }
                    }
                case .result(let seq, _, let sent):
                    if seq >= Self.probe { continue }
                    outstanding -= 1
                    if let first = measureFirst, seq >= first, measureLast.map({ seq < $0 }) ?? true {
                        let received = monotonicNanoseconds()
                        if LatencyRecorder.recordAnswer(seq, intended: nil, sent: sent, received: received,
                                                        tracker: &outcome.tracker, into: &outcome.recorder) {
                            lastMeasuredReceive = received
                        }
                    }
                }
            }
            now = monotonicNanoseconds()
        }
        outcome.recorder.finishIntervals(lastReceive: lastMeasuredReceive)
        outcome.recorder.finishClosedLoop()
        outcome.elapsedNanoseconds = max(lastMeasuredReceive &- measureStart, 1)
        outcome.sendElapsedNanoseconds = outcome.elapsedNanoseconds
        return outcome
    }

    /// Open loop: a sender thread on a schedule, this thread receiving.
    private func runOpen(_ c: Connection, rate: @escaping @Sendable (Double) -> Double) throws -> Outcome {
        let shared = OpenLoopState()
        let measureDuration = point.measureDuration.map(Self.nanoseconds)
        let measureMessages = point.measureMessages
        let sizes = PayloadSizes(point.payload)
        let start = monotonicNanoseconds()
        let measureStart = start + Self.nanoseconds(point.warmup)
        let (target, context, hwm, uniqueIDs) = (target, c.context, point.highWaterMark, point.flow == .async)
        let intervalLength = Self.nanoseconds(point.interval)
        let senderBox = SenderBox()

        let senderThread = SocketThread.start(name: "gen-send") {
            do {
                // The sender gets a PUSH socket of its own: sockets are used by one thread only.
                let sender = try Sender(context: context, target: target, highWaterMark: hwm, uniqueIDs: uniqueIDs)
                defer { sender.push.close() }
                var pacing = OpenLoopSender(sender: sender, sizes: sizes, start: start, measureStart: measureStart,
                                            measureDuration: measureDuration, measureMessages: measureMessages,
                                            intervalLength: intervalLength, rate: rate, shared: shared)
                senderBox.report = try pacing.run()
            } catch {
                senderBox.failure = "\(error)"
            }
            shared.senderDone.store(true, ordering: .releasing)
        }
        var outcome = Outcome()
        var trackerStarted = false
        var lastMeasuredReceive = measureStart
        var drainDeadline: UInt64?
        // Resumes of parked requests go out on a socket of this thread's own.
        let resume: Socket? = point.flow == .async ? try Socket(c.context, .push) : nil
        if let resume { try resume.connect(target.frontEndpoint) }
        defer { resume?.close() }
        var answers = Frames()
        while true {
            if shared.senderDone.load(ordering: .acquiring) {
                let now = monotonicNanoseconds()
                if drainDeadline == nil { drainDeadline = now + Self.nanoseconds(point.drain) }
                let sent = shared.sent.load(ordering: .acquiring)
                if outcome.tracker.unique + outcome.errors >= sent || now >= drainDeadline! {
                    outcome.cpuEnd = snapshot()
                    break
                }
            }
            let answer = try c.receive(dontWait: false, resume: resume, into: &answers)
            let first = shared.measureFirst.load(ordering: .acquiring)
            if !trackerStarted && first != UInt64.max {
                outcome.tracker = SequenceTracker(first: first)
                outcome.cpuStart = snapshot()
                outcome.recorder.startIntervals(at: measureStart, length: intervalLength,
                                                wallClock: wallClockSeconds() - Double(monotonicNanoseconds() &- measureStart) / 1e9)
                trackerStarted = true
            }
            switch answer {
            case .result(let seq, let intended, let sent):
                guard seq < Self.probe, trackerStarted, seq >= first else { continue }
                let received = monotonicNanoseconds()
                if LatencyRecorder.recordAnswer(seq, intended: intended, sent: sent, received: received,
                                                tracker: &outcome.tracker, into: &outcome.recorder) {
                    lastMeasuredReceive = received
                }
            case .error(let text):
                if trackerStarted {
                    outcome.errors += 1
                    outcome.recorder.countError(received: monotonicNanoseconds())
                    if outcome.errorSamples.count < 5 { outcome.errorSamples.append(text) }
                }
            case .parked, .foreign, .none:
                continue
            }
        }
        senderThread.join()
        if let failure = senderBox.failure { throw HarnessError("the open-loop sender failed: \(failure)") }
        let report = senderBox.report!
        outcome.sent = report.sent
        outcome.bytes = report.bytes
        outcome.unsent = report.unsent
        outcome.sendDelay = report.sendDelay
        outcome.sendBoundaries = report.sendBoundaries
        outcome.recorder.finishIntervals(lastReceive: lastMeasuredReceive)
        // Never-sent messages waited at least from their intended time to the phase's end
        // (in the total only: they were never received in any interval).
        outcome.recorder.corrected.add(report.unsentWaits)
        outcome.sendElapsedNanoseconds = max(report.sendElapsed, 1)
        outcome.elapsedNanoseconds = max(lastMeasuredReceive &- measureStart, 1)
        return outcome
    }
}

/// The open-loop sender: sends each message at its intended time.
///
/// It sleeps (`clock_nanosleep`, absolute, 1 ns timer slack) until ``spinMargin`` before the
/// next intended time and spins only the rest, so pacing costs a few microseconds of CPU
/// per message, not a core. Messages whose time has passed go out at once (catching up
/// after a stall; their latency still counts from the schedule).
struct OpenLoopSender {
    /// How early the sender wakes before a send time and spins (the VM's wake-up latency).
    static let spinMargin: UInt64 = 8_000

    let sender: LoadGenerator.Sender
    var sizes: PayloadSizes
    let start: UInt64
    let measureStart: UInt64
    let measureDuration: UInt64?
    let measureMessages: Int?
    /// The interval series' length, ns: the sender notes the first sequence number of each.
    let intervalLength: UInt64
    let rate: @Sendable (Double) -> Double
    let shared: OpenLoopState

    struct Report {
        var sent = 0
        var bytes = 0
        var unsent = 0
        var sendElapsed: UInt64 = 0
        var sendDelay = LatencyRecorder.makeHistogram()
        /// For each unsent message: phase end − its intended time.
        var unsentWaits = LatencyRecorder.makeHistogram()
        /// The first sequence number intended for each interval of the measure phase.
        var sendBoundaries: [UInt64] = []
    }

    func interval(at intended: UInt64) -> UInt64 {
        let secondsIntoMeasure = (Double(intended) - Double(measureStart)) / 1e9
        return UInt64(1e9 / max(rate(secondsIntoMeasure), 1))
    }

    mutating func run() throws -> Report {
        zmb_set_timer_slack(1)
        var report = Report()
        var seq: UInt64 = 0
        var intended = start
        var measureFirst: UInt64?
        let measureEnd = measureDuration.map { measureStart + $0 }
        var out = LoadGenerator.Frames()
        var nextBoundary = UInt64.max
        while true {
            var now = monotonicNanoseconds()
            while intended <= now {
                if measureFirst == nil && intended >= measureStart {
                    measureFirst = seq
                    shared.measureFirst.store(seq, ordering: .releasing)
                    report.sendBoundaries = [seq]
                    nextBoundary = measureStart + intervalLength
                }
                while intended >= nextBoundary && measureEnd.map({ nextBoundary < $0 }) ?? true {
                    report.sendBoundaries.append(seq)
                    nextBoundary += intervalLength
                }
                if let first = measureFirst {
                    let countDone = measureMessages.map { Int(seq - first) >= $0 } ?? false
                    // The phase ends with its schedule, or with the wall clock when an
                    // overloaded pipeline held the sender back behind its schedule: what the
                    // schedule still called for is unsent, and counted.
                    let scheduleDone = measureEnd.map { intended >= $0 } ?? false
                    let clockDone = measureEnd.map { now >= $0 } ?? false
                    if countDone || scheduleDone || clockDone {
                        if clockDone && !scheduleDone, let end = measureEnd {
                            var slot = intended
                            while slot < end {
                                report.unsent += 1
                                _ = report.unsentWaits.record(end - slot)
                                slot += interval(at: slot)
                            }
                        }
                        report.sent = Int(seq - first)
                        report.sendElapsed = now - measureStart
                        shared.sent.store(report.sent, ordering: .releasing)
                        return report
                    }
                }
                let size = sizes.next()
                let sent = try sender.send(seq: seq, scheduledAt: intended, size: size, using: &out)
                if measureFirst != nil {
                    report.bytes += size
                    _ = report.sendDelay.record(sent &- intended)
                }
                seq += 1
                intended += interval(at: intended)
                now = sent
            }
            if intended > now + Self.spinMargin {
                let wake = intended - Self.spinMargin
                var until = timespec(tv_sec: Int(wake / 1_000_000_000), tv_nsec: Int(wake % 1_000_000_000))
                _ = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nil)
            }
            while monotonicNanoseconds() < intended {}
        }
    }
}

/// The generator thread's result, handed to the caller. `@unchecked Sendable`: written by
/// the generator thread before it ends and read by the caller only after `join()`, which
/// orders the two (semaphore + `pthread_join`).
private final class OutcomeBox: @unchecked Sendable {
    var result: Result<LoadGenerator.Outcome, any Error>?
}

/// The open-loop sender's report, same hand-over rule as ``OutcomeBox``.
private final class SenderBox: @unchecked Sendable {
    var report: OpenLoopSender.Report?
    var failure: String?
}

/// What the open-loop sender tells the receiver while both run.
final class OpenLoopState: Sendable {
    /// The first measured sequence number (UInt64.max until the measure phase starts).
    let measureFirst = Atomic<UInt64>(UInt64.max)
    let sent = Atomic<Int>(0)
    let senderDone = Atomic<Bool>(false)
}
