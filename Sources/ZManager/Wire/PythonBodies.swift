public import Pickle

/// The body conventions the core shares with DigitalPy peers (single-form messages).
///
/// A DigitalPy message body is `pickle.dumps(values)` of a `dict` (protocol 4 on CPython 3.11,
/// as DigitalPy's own peers do). The core itself never looks inside bodies on its hot
/// paths; it reads or writes a pickle only where a Python peer needs one:
/// - error messages to single-form requests (``errorValues(kind:role:flow:id:text:)``);
/// - the request the Subject publishes when a single-form flow parks at an ASYNC step, which
///   carries `prev_flows` as DigitalPy's services expect (``prevFlowsKey``);
/// - handlers that ask for values (``HandlerRequest/values()``, ``HandlerResponse/setValues(_:)``).
public enum PythonBodies {
    /// The pickle protocol the core writes: CPython 3.11's default, which DigitalPy uses.
    public static let pickleProtocol = 4

    /// The limits applied to pickles from peers: the codec's defaults (nesting 1000, ten
    /// million values, bounded hashing), which no DigitalPy body comes near and which keep a
    /// hostile pickle from exhausting a worker.
    public static let decoderOptions = PickleDecoder.Options()

    /// The values of an error message's body in single form, a `dict` of `str` → `str`:
    ///
    /// ```python
    /// {"error": text, "kind": kind, "role": role, "flow": flow, "id": id}
    /// ```
    ///
    /// `error` is the same sentence a split-form error carries as UTF-8; `kind`, `role`, `flow`
    /// and `id` repeat the header's action, source, context and id fields, so that a DigitalPy
    /// service, which reads `request.get_values()` and rarely the action key, has everything in
    /// one place. `kind` is an ``ErrorKind`` raw value (`handler_failed`, `undecodable`, …).
    public static func errorValues(kind: ErrorKind, role: String, flow: String, id: String, text: String) -> PickleValue {
        [
            "error": .string(text),
            "kind": .string(kind.rawValue),
            "role": .string(role),
            "flow": .string(flow),
            "id": .string(id),
        ]
    }

    /// The key of DigitalPy's ASYNC continuation state (`values["prev_flows"]`, a list whose
    /// first entry the continuation uses; the docs call it `prev_flow`, the code `prev_flows`).
    public static let prevFlowsKey = "prev_flows"

    /// One `prev_flows` entry as simple values. DigitalPy stores a whole pickled `Request`
    /// there, which only Python can load (and which ``PickleDecoder`` refuses: it is built by
    /// `GLOBAL` + `REDUCE`); the core stores the action key of the ASYNC step the flow waits
    /// at, field by field, plus the id:
    ///
    /// ```python
    /// {"config": flow, "decorator": "ASYNC", "source": source, "context": context,
    ///  "action": action, "id": id}
    /// ```
    ///
    /// A party answers either DigitalPy's way — a `completed_command~~~~done~<id>~` message
    /// to the Integration Manager with `prev_flows` copied back — or by sending
    /// `config~ASYNC~<itself>~context~action~id~` built from this entry to the Subject.
    public static func prevFlowEntry(step: ActionKey, id: String) -> PickleValue {
        [
            "config": .string(step.config),
            "decorator": .string(step.decorator),
            "source": .string(step.source),
            "context": .string(step.context),
            "action": .string(step.action),
            "id": .string(id),
        ]
    }

    /// `body` with `prev_flows` set to `[entry]`, or nil when `body` is not a pickled `dict`
    /// (the parked request is then published as it is: the parking table, not `prev_flows`,
    /// is what continues the flow). Like DigitalPy's `_send_command`, an earlier `prev_flows`
    /// is replaced.
    static func settingPrevFlows(_ entry: PickleValue, in body: UnsafeRawBufferPointer) -> [UInt8]? {
        guard case .dict(var pairs)? = try? PickleDecoder.decode(body, options: decoderOptions) else { return nil }
        let key = PickleValue.string(prevFlowsKey)
        pairs.removeAll { $0.key == key }
        pairs.append((key: key, value: .list([entry])))
        return PickleEncoder.encode(.dict(pairs), protocol: pickleProtocol)
    }
}

/// A message body that is not a pickle the core accepts, from ``HandlerRequest/values()``
/// or ``ZManagerClient/Delivery/values()``.
///
/// When a handler lets it propagate, the worker (or service) publishes an
/// ``ErrorKind/undecodable`` error message with the message's id — the message is malformed,
/// the handler did nothing wrong — and goes on serving.
public struct PickleBodyError: Error, CustomStringConvertible, Sendable {
    /// Why the decoder refused the body, with the opcode and byte offset (offsets count from
    /// the start of the body, not of the frame).
    public let pickle: PickleError
    /// The body's size in bytes.
    public let bodySize: Int

    public init(pickle: PickleError, bodySize: Int) {
        self.pickle = pickle
        self.bodySize = bodySize
    }

    public var description: String {
        "the \(bodySize)-byte message body is not an accepted pickle: \(pickle)"
    }
}

extension PythonBodies {
    /// Decodes a whole body as one pickle.
    static func decode(_ body: UnsafeRawBufferPointer) throws(PickleBodyError) -> PickleValue {
        do {
            return try PickleDecoder.decode(body, options: decoderOptions)
        } catch {
            throw PickleBodyError(pickle: error, bodySize: body.count)
        }
    }
}
