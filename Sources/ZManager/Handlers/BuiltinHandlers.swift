import Pickle
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Handlers that ship with the core, for benchmarks and smoke tests. Map them like any
/// component: `??Echo = zmanager.builtin.echo`.
public enum BuiltinHandlers {
    public static let echoTarget = "zmanager.builtin.echo"

    /// Returns the request body unchanged (forwarded without a copy).
    public static let echo: Handler = { _, _ in }

    public static let tagTarget = "zmanager.builtin.tag"

    /// Appends `@<executor>` to the body: shows which worker or service ran a step.
    public static let tag: Handler = { request, response in
        response.setBody(Array(request.body) + Array("@\(request.executor)".utf8))
    }

    public static let stampTarget = "zmanager.builtin.stamp"

    /// Reads the body as DigitalPy values (a pickled dict) and returns them with
    /// `"<executor>:<action>"` appended to the list under `"stamps"` (created when absent),
    /// pickled at protocol 4. Every other key and value goes back unchanged, in order.
    ///
    /// It is the interop probe: a Python peer sees that a Swift handler read its values and
    /// wrote values Python loads, and, through a multi-step or ASYNC flow, which worker ran
    /// which step in which order. A body that is not a pickle gives an
    /// ``ErrorKind/undecodable`` error message; a pickle that is not a dict, a
    /// ``ErrorKind/handlerFailed`` one.
    public static let stamp: Handler = { request, response in
        var pairs = try request.valuesDict()
        let key = PickleValue.string("stamps")
        let entry = PickleValue.string("\(request.executor):\(request.step.action)")
        if let index = pairs.lastIndex(where: { $0.key == key }) {
            guard case .list(var stamps) = pairs[index].value else {
                throw HandlerError("\(request.step.text): \"stamps\" must be a list, found \(PythonBodies.typeName(of: pairs[index].value))")
            }
            stamps.append(entry)
            pairs[index].value = .list(stamps)
        } else {
            pairs.append((key: key, value: .list([entry])))
        }
        response.setValues(.dict(pairs))
    }

    /// Burns `microseconds` of CPU, then echoes: a handler with a cost, to show worker scaling.
    public static func spin(microseconds: Int) -> Handler {
        { _, _ in
            let clock = ContinuousClock()
            let end = clock.now + .microseconds(microseconds)
            while clock.now < end {}
        }
    }

    /// Sleeps `milliseconds` on every `every`-th message it handles (per worker), else echoes:
    /// a stalling handler, which an open-loop load generator must see in corrected latency.
    public static func stall(milliseconds: Int, every: Int) -> Handler {
        let counter = StallCounter()
        return { _, _ in
            if counter.next() % every == 0 {
                var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
                var remaining = timespec()
                while nanosleep(&request, &remaining) != 0 { request = remaining }
            }
        }
    }

    /// `zmanager.builtin.spin_<N>us` and `zmanager.builtin.stall_<D>ms_every_<N>`.
    static func parameterised(_ target: String) -> Handler? {
        let prefix = "zmanager.builtin."
        guard target.hasPrefix(prefix) else { return nil }
        let name = target.dropFirst(prefix.count)
        if name.hasPrefix("spin_"), name.hasSuffix("us"), let n = Int(name.dropFirst(5).dropLast(2)), n >= 0 {
            return spin(microseconds: n)
        }
        if name.hasPrefix("stall_") {
            let parts = name.dropFirst(6).split(separator: "_")
            if parts.count == 3, parts[0].hasSuffix("ms"), parts[1] == "every",
               let d = Int(parts[0].dropLast(2)), let n = Int(parts[2]), d >= 0, n > 0 {
                return stall(milliseconds: d, every: n)
            }
        }
        return nil
    }
}

import Synchronization

/// Counts messages across the threads sharing one stall handler.
final class StallCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}
