/// What a handler sees of the message it executes. Valid only during the call: the byte
/// buffers point into the received frames (no copy was made to call the handler).
public struct HandlerRequest {
    /// The message body: the payload in split form, DigitalPy's pickle in single form.
    public let body: UnsafeRawBufferPointer
    /// The correlation id (DigitalPy: a uuid4 string), as bytes.
    public let id: UnsafeRawBufferPointer
    /// The form the message arrived in; replies travel in the same form.
    public let form: WireForm
    /// Unowned and unchecked: the role's handler table holds every context for the role's
    /// lifetime, and a request lives only during its handler call, so the reference cannot
    /// dangle; a strong one cost a retain and a release per handler call.
    unowned(unsafe) let context: StepContext

    init(body: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, form: WireForm, context: StepContext) {
        self.body = body
        self.id = id
        self.form = form
        self.context = context
    }

    /// The flow step being executed.
    public var step: ActionKey { context.step }
    /// Index of the step within its flow.
    public var stepIndex: Int { context.stepIndex }
    /// The worker or service executing the step (for diagnostics and tests).
    public var executor: String { context.executor }

    /// The id as a `String` (allocates).
    public var idString: String { String(decoding: id, as: UTF8.self) }
    /// The body as an array (allocates).
    public var bodyBytes: [UInt8] { Array(body) }
}

/// What a handler is told about the step it runs, made once per step and executor at
/// start-up: a request then carries one reference instead of copies of the step's six
/// strings and the executor's name (measured: about 300 instructions of retain/release per
/// handler call).
final class StepContext: Sendable {
    let step: ActionKey
    let stepIndex: Int
    let executor: String

    init(step: ActionKey, stepIndex: Int, executor: String) {
        self.step = step
        self.stepIndex = stepIndex
        self.executor = executor
    }
}

/// A mapped step's handler with its context, as the roles keep it per flow step. Held in an
/// object: a bare closure stored in an array and then captured by another closure was
/// re-wrapped in a heap-allocated thunk on every call (measured: one 32-byte malloc per step);
/// and one reference, which a worker borrows unretained per step (``Worker``), instead of a
/// struct of two that were retained and released around every handler call.
final class StepHandler {
    let run: Handler
    let context: StepContext

    init(run: @escaping Handler, context: StepContext) {
        self.run = run
        self.context = context
    }
}

/// What a handler produces. It starts *unchanged*: the request body is passed on as the
/// result, so an echo handler costs nothing and forwards the body frame without a copy.
/// Writing a body replaces it; the storage is reused from message to message, so a handler
/// writing bodies of a steady size allocates nothing.
public struct HandlerResponse {
    var storage: [UInt8]
    public internal(set) var isUnchanged = true

    init(capacity: Int = 4096) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    mutating func reset() {
        // An echo step never writes: skip `removeAll`'s generic path (about 50 instructions).
        if !storage.isEmpty { storage.removeAll(keepingCapacity: true) }
        isUnchanged = true
    }

    /// Replaces the body with a copy of `bytes`.
    public mutating func setBody(_ bytes: UnsafeRawBufferPointer) {
        storage.removeAll(keepingCapacity: true)
        storage.append(contentsOf: bytes)
        isUnchanged = false
    }

    /// Replaces the body with `bytes`.
    public mutating func setBody(_ bytes: some Sequence<UInt8>) {
        storage.removeAll(keepingCapacity: true)
        storage.append(contentsOf: bytes)
        isUnchanged = false
    }

    /// Replaces the body with `count` bytes written by `fill`.
    public mutating func writeBody(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        storage.removeAll(keepingCapacity: true)
        storage.append(contentsOf: repeatElement(0, count: count))
        storage.withUnsafeMutableBytes { fill($0) }
        isUnchanged = false
    }

    /// The body written so far (empty while unchanged).
    public var body: [UInt8] { storage }
}

/// A component's implementation of one mapped action.
///
/// Runs on a worker (or service) thread; throwing publishes an ``ErrorKind/handlerFailed``
/// error message carrying the message id (``ErrorKind/undecodable`` when the throw is a
/// refused pickle body from ``HandlerRequest/values()``: the sender is at fault), and the
/// worker goes on serving.
public typealias Handler = @Sendable (HandlerRequest, inout HandlerResponse) throws -> Void

/// A handler failure with a message of the handler's choosing.
public struct HandlerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
