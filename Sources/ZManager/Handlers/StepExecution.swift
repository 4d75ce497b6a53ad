import ZeroMQ

/// The body a flow's steps compute on, on one worker or service thread: first the received
/// body, then each step's output in turn, and how to send whichever is current.
///
/// Two response buffers are used alternately, so a step's output never overwrites the input it
/// is computing from; both keep their capacity from message to message, so steady traffic
/// allocates nothing. A step that leaves its response unchanged passes its input on: an echo
/// step copies nothing, and a split-form body frame travels on without a copy.
struct StepExecution: ~Copyable {
    private var even = HandlerResponse()
    private var odd = HandlerResponse()
    /// Which holds the current body: nil = the received body, else a response buffer.
    private var current: Parity?
    /// The shared copy of a received body frame that goes out while execution goes on with it.
    private var shared = Message()

    private enum Parity { case even, odd }

    init() {}

    /// Starts on a new message: its received body is the current one.
    mutating func begin() { current = nil }

    /// Runs `handler` on the current body, writing into the other buffer, which becomes the
    /// current body unless the handler left it unchanged. Returns what the handler threw.
    /// `inout`, not `borrowing`: a borrowed `inbound` passed out of line was copied (160 bytes, a
    /// `memcpy`) per call, and the optimizer does not always inline this into a large caller.
    @inline(__always)
    mutating func run(_ handler: StepHandler, on inbound: inout Inbound) -> (any Error)? {
        switch current {
        case nil:
            let failure = inbound.withBody { Self.call(handler, inbound, input: $0, output: &even) }
            if !even.isUnchanged { current = .even }
            return failure
        case .even?:
            let failure = even.storage.withUnsafeBytes { Self.call(handler, inbound, input: $0, output: &odd) }
            if !odd.isUnchanged { current = .odd }
            return failure
        case .odd?:
            let failure = odd.storage.withUnsafeBytes { Self.call(handler, inbound, input: $0, output: &even) }
            if !even.isUnchanged { current = .even }
            return failure
        }
    }

    private static func call(_ handler: StepHandler, _ inbound: borrowing Inbound,
                             input: UnsafeRawBufferPointer, output: inout HandlerResponse) -> (any Error)? {
        output.reset()
        let request = HandlerRequest(body: input, id: inbound.id, form: inbound.form, context: handler.context)
        do {
            try handler.run(request, &output)
            return nil
        } catch {
            return error
        }
    }

    /// Sends the current body under `prefix` and the message's id, in the message's form.
    ///
    /// An unchanged split-form body frame is moved; with `keepBody` it is shared
    /// (reference-counted, still no copy) instead, because execution goes on with it.
    mutating func send(
        _ inbound: inout Inbound, prefix: UnsafeRawBufferPointer, keepBody: Bool,
        outbox: inout Outbox, to socket: Socket, pool: BufferPool
    ) throws(ZMQError) {
        let id = inbound.id
        let form = inbound.form
        switch current {
        case nil where form == .split:
            if keepBody {
                shared.share(from: inbound.body)
                try outbox.send(prefix: prefix, id: id, bodyFrame: &shared, to: socket)
            } else {
                try outbox.send(prefix: prefix, id: id, bodyFrame: &inbound.body, to: socket)
            }
        case nil:
            try outbox.send(prefix: prefix, id: id, body: inbound.singleFormBody, form: .single, to: socket, pool: pool)
        case .even?:
            try outbox.send(prefix: prefix, id: id, body: even.storage, form: form, to: socket, pool: pool)
        case .odd?:
            try outbox.send(prefix: prefix, id: id, body: odd.storage, form: form, to: socket, pool: pool)
        }
    }
}
