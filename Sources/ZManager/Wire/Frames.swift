import Pickle
import ZeroMQ

/// A received ZManager message: the parsed header and where its body is.
///
/// Kept in two reusable ``Message``s per role thread, so receiving allocates nothing:
/// `head` holds the header frame (split form) or the whole frame (single form), `body` the
/// body frame of the split form.
struct Inbound: ~Copyable {
    var head = Message()
    var body = Message()
    var control = Message()
    var form: WireForm = .single
    var fields = HeaderFields(
        config: 0..<0, decorator: 0..<0, source: 0..<0, context: 0..<0, action: 0..<0,
        id: 0..<0, bodyOffset: 0, hasMessageID: false)
    /// Set when the message was a control message; `head`/`body` then hold its frames 2/3.
    var verb: ControlVerb?
    /// The last header key parsed in full: a repeated key skips most of the parse.
    private var headerKeys = HeaderKeyMemo()
    /// Equal for two receives whose headers have the same key part (see ``HeaderKeyMemo``).
    var keyGeneration: UInt64 { headerKeys.generation }
    /// `head`'s bytes, read from libzmq once per receive: the routing looks at the header a
    /// dozen times per message, and every look through ``Message/withUnsafeBytes(_:)`` is two
    /// calls into libzmq (measured: about 300 instructions per message in the Subject).
    /// Valid until `head` is sent, moved or received into again; empty before the first
    /// receive.
    private(set) var headBytes = UnsafeRawBufferPointer(start: nil, count: 0)

    enum Outcome {
        case message
        case timedOut
        /// Not a ZManager message; `reason` says why. The frames were consumed.
        case malformed(kind: ErrorKind, reason: String)

        var isTimedOut: Bool {
            if case .timedOut = self { true } else { false }
        }
    }

    /// Receives one whole ZManager message (1 frame, 2 frames, or, with `controls`, a control
    /// message).
    ///
    /// - Parameter controls: whether a first frame `\0` + verb is a control message (§4 of
    ///   docs/PROTOCOL.md: only the Subject's front takes them). Elsewhere it is read as a header
    ///   like any other frame: a worker used to take a ping for a message and read its header
    ///   through the previous message's field ranges (found by Fuzz/, `FuzzWorker`).
    mutating func receive(from socket: Socket, maxSize: Int, maxIDLength: Int, controls: Bool = false,
                          dontWait: Bool = false) throws(ZMQError) -> Outcome {
        verb = nil
        headBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        guard try socket.receive(into: &head, dontWait: dontWait) == .received else { return .timedOut }
        // Sizes are read once: each `zmq_msg_size` is about 20 instructions (libzmq checks
        // the message's type), and a receive used to ask five times.
        var headFrame = head.withUnsafeBytes { $0 }
        if controls, headFrame.count >= 2, headFrame[0] == 0 {
            let verbByte = headFrame[1]
            guard let verb = ControlVerb(rawValue: verbByte) else {
                // Only its own frames: a one-frame unknown verb used to swallow the next
                // message (found by Fuzz/, `FuzzWorker`).
                try discardRest(of: socket, after: head.more)
                return .malformed(kind: .undecodable, reason: "unknown control verb \(verbByte)")
            }
            self.verb = verb
            control.move(from: &head)
            if verb == .ping {
                guard control.more else { return .message }
                _ = try socket.receive(into: &head)
                headBytes = head.withUnsafeBytes { $0 }
                try discardRest(of: socket, after: head.more)
                return .message
            }
            guard control.more else { return .malformed(kind: .undecodable, reason: "control message without header frame") }
            _ = try socket.receive(into: &head)
            headFrame = head.withUnsafeBytes { $0 }
        }
        var bodyFrameCount = 0
        if head.more {
            _ = try socket.receive(into: &body)
            if body.more {
                try discardRest(of: socket, after: true)
                return .malformed(kind: .undecodable, reason: "more than two frames")
            }
            bodyFrameCount = body.count
            form = .split
        } else {
            // `body` holds a frame only after a split-form message (what moves it out leaves
            // it empty): resetting an empty message is two libzmq calls, about 50
            // instructions per single-form message.
            if form == .split { body.reset() }
            form = .single
        }
        headBytes = headFrame
        if headFrame.count + bodyFrameCount > maxSize {
            return .malformed(kind: .oversized, reason: "message of \(headFrame.count + bodyFrameCount) bytes exceeds the limit of \(maxSize)")
        }
        do {
            fields = try headerKeys.parse(headBytes)
        } catch {
            return .malformed(kind: .undecodable, reason: "\(error)")
        }
        if fields.id.count > maxIDLength {
            return .malformed(kind: .oversized, reason: "id of \(fields.id.count) bytes exceeds the limit of \(maxIDLength)")
        }
        if form == .split && fields.bodyOffset != headBytes.count {
            return .malformed(kind: .undecodable, reason: "split-form header frame has \(headBytes.count - fields.bodyOffset) bytes after its sixth '~'")
        }
        return .message
    }

    /// Re-reads the header after `head` (and `body`, split form) were replaced by frames kept
    /// elsewhere (``EarlyAnswers``). False when it does not parse, which cannot happen for a
    /// message that was received and parsed once already.
    mutating func reload(form: WireForm) -> Bool {
        verb = nil
        self.form = form
        headBytes = head.withUnsafeBytes { $0 }
        guard let parsed = try? headerKeys.parse(headBytes) else { return false }
        fields = parsed
        return true
    }

    /// Reads and drops the rest of the message whose last frame read had `more` set.
    private func discardRest(of socket: Socket, after more: Bool) throws(ZMQError) {
        var scratch = Message()
        var more = more
        while more {
            _ = try socket.receive(into: &scratch)
            more = scratch.more
        }
    }

    // The accessors below are always inlined: called out of line, a borrowed `Inbound` is
    // copied (160 bytes, a `memcpy`) to make the call.

    /// Calls `body` with the message's body bytes (after the header in single form).
    @inline(__always)
    func withBody<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch form {
        case .single:
            return body(singleFormBody)
        case .split:
            return self.body.withUnsafeBytes { body($0) }
        }
    }

    /// The body bytes after the header of a single-form frame.
    @inline(__always)
    var singleFormBody: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: headBytes[fields.bodyOffset...]) }

    @inline(__always)
    var bodyCount: Int { form == .split ? body.count : headBytes.count - fields.bodyOffset }

    /// The id field's bytes.
    @inline(__always)
    var id: UnsafeRawBufferPointer { fields.bytes(.id, in: headBytes) }

    /// Whether header field `field` equals `bytes`.
    @inline(__always)
    func field(_ field: HeaderFields.Field, equals bytes: StaticBytes) -> Bool {
        bytes.equals(fields.bytes(field, in: headBytes))
    }

    /// The message's position in `flows` (its flow and first matching step), nil when the
    /// flow is unknown or no step matches.
    @inline(__always)
    func position(in flows: FlowTable) -> FlowPosition? { flows.position(ofHeader: fields, in: headBytes) }

    /// The id field as a String (allocates; error and ASYNC paths only).
    var idString: String { fields.string(.id, in: headBytes) }
    var flowString: String { fields.string(.config, in: headBytes) }
}

/// A constant byte string compared with header fields by length, then by words: a generic
/// `elementsEqual` against an array measured over 100 instructions per comparison.
struct StaticBytes: Sendable {
    let bytes: [UInt8]

    init(_ text: String) { bytes = Array(text.utf8) }

    @inline(__always)
    func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard other.count == n else { return false }
        if n == 0 { return true }
        return bytes.withUnsafeBytes { Self.same($0.baseAddress!, other.baseAddress!, count: n) }
    }

    /// Compares eight bytes at a time, then the tail with overlapping loads: header fields
    /// are a few to a few dozen bytes, where calling `memcmp` (about 20 instructions of
    /// set-up) or a byte loop costs more than this. Any `n`, 0 included.
    @inline(__always)
    static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count n: Int) -> Bool {
        var i = 0
        while i + 8 <= n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        if i == n { return true }
        // The rest by two overlapping loads: the last eight bytes (after a word compare), or
        // for short fields such as `Push` the first and last four, two or one bytes.
        if n >= 8 {
            return a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        if n >= 2 {
            return a.loadUnaligned(as: UInt16.self) == b.loadUnaligned(as: UInt16.self)
                && a.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self) == b.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self)
        }
        return a.load(as: UInt8.self) == b.load(as: UInt8.self)
    }
}

/// A header without its id: `config~decorator~source~context~action~`, built once per flow
/// step (``FlowRouter`` keeps them) or for a one-off message (an error, a pong).
///
/// ``Outbox`` takes a prefix as its bytes (`UnsafeRawBufferPointer`), not as this value:
/// copying a `HeaderPrefix` out of a table retains and releases its array, measured about
/// 40 instructions per message in the Subject, while a router hands out pointers into one
/// buffer it owns (``FlowRouter/prefix(_:)``). A one-off prefix lends its bytes with
/// ``withBytes(_:)``.
struct HeaderPrefix: Sendable {
    let bytes: [UInt8]

    init(_ key: ActionKey) {
        bytes = Array("\(key.config)~\(key.decorator)~\(key.source)~\(key.context)~\(key.action)~".utf8)
    }

    init(fields: [String]) {
        precondition(fields.count == 5)
        bytes = Array((fields.joined(separator: "~") + "~").utf8)
    }

    /// Calls `body` with the prefix's bytes, valid during the call.
    @discardableResult
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(ZMQError) -> R) throws(ZMQError) -> R {
        let result: Result<R, ZMQError> = bytes.withUnsafeBytes { bytes in
            Result { () throws(ZMQError) in try body(bytes) }
        }
        return try result.get()
    }
}

/// The long-lived outgoing messages of one role thread, refilled in place for every send:
/// sending allocates nothing on the Swift side (libzmq itself still allocates a body of
/// more than 33 bytes that it does not receive zero-copy).
struct Outbox: ~Copyable {
    var header = Message()
    var frame = Message()

    /// Sends `prefix + id + "~"` and a copy of `body` in `form`: one frame (single form) or a
    /// header frame and a body frame (split form).
    ///
    /// With `dontWait`, a socket that cannot take the message returns ``SendResult/wouldBlock``
    /// and nothing is sent: the single-form frame stays in ``frame``, the split-form header in
    /// ``header`` (its body is not built yet).
    @discardableResult
    mutating func send(
        prefix: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, form: WireForm,
        to socket: Socket, pool: BufferPool, dontWait: Bool = false
    ) throws(ZMQError) -> SendResult {
        switch form {
        case .single:
            fillSingle(prefix: prefix, id: id, body: body, pool: pool)
            return try socket.send(&frame, dontWait: dontWait)
        case .split:
            guard try sendHeaderFrame(prefix: prefix, id: id, to: socket, dontWait: dontWait) == .sent else { return .wouldBlock }
            pool.fill(&frame, count: body.count) { out in
                if body.count > 0 { out.copyMemory(from: body) }
            }
            return try socket.send(&frame)
        }
    }

    /// Writes the single-form frame `prefix + id + "~" + body` into ``frame`` without sending it.
    @inline(__always)
    mutating func fillSingle(prefix: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, pool: BufferPool) {
        let headerCount = prefix.count + id.count + 1
        pool.fill(&frame, count: headerCount + body.count) { out in
            if let idBase = id.baseAddress, let bodyBase = body.baseAddress, idBase + id.count + 1 == bodyBase {
                // `id~body` straight from the received frame: one copy instead of three.
                out.copyMemory(from: prefix)
                UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...])
                    .copyMemory(from: UnsafeRawBufferPointer(start: idBase, count: id.count + 1 + body.count))
                return
            }
            Outbound.writeHeader(prefix, id, into: out)
            if body.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[headerCount...]).copyMemory(from: body)
            }
        }
    }

    /// Writes the split-form header frame `prefix + id + "~"` into ``header`` without sending it.
    @inline(__always)
    mutating func fillHeader(prefix: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) {
        header.reset(size: prefix.count + id.count + 1)
        header.withUnsafeMutableBytes { Outbound.writeHeader(prefix, id, into: $0) }
    }

    /// ``send(prefix:id:body:form:to:pool:dontWait:)`` for a body held in an array.
    @discardableResult
    mutating func send(
        prefix: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, body: [UInt8], form: WireForm,
        to socket: Socket, pool: BufferPool, dontWait: Bool = false
    ) throws(ZMQError) -> SendResult {
        let result: Result<SendResult, ZMQError> = body.withUnsafeBytes { bytes in
            Result { () throws(ZMQError) in
                try send(prefix: prefix, id: id, body: bytes, form: form, to: socket, pool: pool, dontWait: dontWait)
            }
        }
        return try result.get()
    }

    /// Sends the split form with `bodyFrame` as the body: moved, not copied (it is empty
    /// afterwards). With `dontWait`, a socket that cannot take the message returns
    /// ``SendResult/wouldBlock``: the header stays in ``header`` and `bodyFrame` is untouched.
    @discardableResult
    mutating func send(
        prefix: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, bodyFrame: inout Message, to socket: Socket,
        dontWait: Bool = false
    ) throws(ZMQError) -> SendResult {
        guard try sendHeaderFrame(prefix: prefix, id: id, to: socket, dontWait: dontWait) == .sent else { return .wouldBlock }
        // A message's later frames always follow its first (libzmq checks the high-water mark
        // at message boundaries).
        return try socket.send(&bodyFrame)
    }

    private mutating func sendHeaderFrame(prefix: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, to socket: Socket,
                                          dontWait: Bool) throws(ZMQError) -> SendResult {
        fillHeader(prefix: prefix, id: id)
        return try socket.send(&header, more: true, dontWait: dontWait)
    }

    /// Sends a control message's first frame (`\0` + verb), with MORE set.
    mutating func sendVerb(_ verb: ControlVerb, to socket: Socket) throws(ZMQError) {
        try sendLead(verb.rawValue, to: socket)
    }

    /// Sends the ``CopyMarker`` in front of a published copy, with MORE set.
    mutating func sendCopyMarker(to socket: Socket) throws(ZMQError) {
        try sendLead(CopyMarker.verb, to: socket)
    }

    private mutating func sendLead(_ verb: UInt8, to socket: Socket) throws(ZMQError) {
        header.reset(size: 2)
        header.withUnsafeMutableBytes { out in
            out[0] = 0
            out[1] = verb
        }
        _ = try socket.send(&header, more: true)
    }
}

enum Outbound {
    @inline(__always)
    static func writeHeader(_ prefix: UnsafeRawBufferPointer, _ id: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        out.copyMemory(from: prefix)
        let idStart = prefix.count
        if id.count > 0 { UnsafeMutableRawBufferPointer(rebasing: out[idStart...]).copyMemory(from: id) }
        out[idStart + id.count] = WireHeader.delimiter
    }

    /// Publishes an error message (through the Integration Manager). Allocates: error path.
    /// Returns false when the send failed (the socket threw: its context is ending, or it is
    /// closed; or, with `dontWait`, the socket could not take it); the caller counts it, since a
    /// service will never see that error.
    @discardableResult
    static func sendError(
        _ kind: ErrorKind, role: String, flow: String, id: String, text: String, form: WireForm,
        to socket: Socket, encodeBody: ErrorBodyEncoder, dontWait: Bool = false
    ) -> Bool {
        let report = ErrorReport(kind: kind, role: sanitize(role), flow: sanitize(flow), id: sanitize(id), text: text)
        let prefix = HeaderPrefix(fields: [Topics.errorConfig, kind.decorator, report.role, report.flow, kind.rawValue])
        let idBytes = Array(report.id.utf8)
        let body = encodeBody(report, form)
        var outbox = Outbox()
        return idBytes.withUnsafeBytes { idBuffer in
            (try? prefix.withBytes { (prefix) throws(ZMQError) in
                try outbox.send(prefix: prefix, id: idBuffer, body: body, form: form, to: socket, pool: .shared,
                                dontWait: dontWait)
            }) == .sent
        }
    }

    /// Header fields may not contain `~` (it would shift the fields); ids from garbage
    /// input might.
    static func sanitize(_ field: String) -> String {
        String(field.map { $0 == "~" ? "_" : $0 }.prefix(200))
    }
}

/// What an error message reports; its header carries the same fields
/// (`zmanager_error~<ERROR|NOTICE>~<role>~<flow>~<kind>~<id>~`), already sanitised.
struct ErrorReport: Sendable {
    let kind: ErrorKind
    let role: String
    let flow: String
    let id: String
    let text: String
}

/// Encodes an error message's body for the form it travels in.
typealias ErrorBodyEncoder = @Sendable (ErrorReport, WireForm) -> [UInt8]

/// UTF-8 text in both forms: what the core sent before Python peers could read pickles.
/// Kept for tests that compare the two encodings.
let plainErrorBody: ErrorBodyEncoder = { report, _ in Array(report.text.utf8) }

/// The error body every role uses unless a test installs another: UTF-8 text in split form
/// (Swift peers), a pickle protocol-4 dict in single form, because a single-form request
/// came from a DigitalPy peer, and DigitalPy unpickles the body of every message it
/// receives (`SerializerContainer.from_zmanager_message`) — a text body would raise there.
/// See ``PythonBodies/errorValues(kind:role:flow:id:text:)`` for the dict's keys.
let formAwareErrorBody: ErrorBodyEncoder = { report, form in
    switch form {
    case .split:
        return Array(report.text.utf8)
    case .single:
        return PickleEncoder.encode(
            PythonBodies.errorValues(kind: report.kind, role: report.role, flow: report.flow, id: report.id, text: report.text),
            protocol: PythonBodies.pickleProtocol)
    }
}
