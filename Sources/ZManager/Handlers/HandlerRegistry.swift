/// Swift components register their handlers here under the target names that external
/// action mapping files use (`??Echo = myapp.echo.Echo.run`).
///
/// Every target a mapping names must have a handler when a worker starts: a missing one is
/// an error then (``MissingHandlersError``), naming each target and the mapping line that
/// wants it, rather than a failure on the first message that needs it.
public struct HandlerRegistry: Sendable {
    private var handlers: [String: Handler] = [:]

    public init() {}

    /// A registry with the built-in handlers (``BuiltinHandlers``) already registered.
    public static var withBuiltins: HandlerRegistry {
        var registry = HandlerRegistry()
        registry.register(BuiltinHandlers.echoTarget, BuiltinHandlers.echo)
        registry.register(BuiltinHandlers.tagTarget, BuiltinHandlers.tag)
        registry.register(BuiltinHandlers.stampTarget, BuiltinHandlers.stamp)
        return registry
    }

    /// Registers `handler` under `target`, replacing an earlier registration.
    public mutating func register(_ target: String, _ handler: @escaping Handler) {
        handlers[target] = handler
    }

    /// The handler for `target`: a registered one, else a parameterised built-in
    /// (`zmanager.builtin.spin_<N>us`, `zmanager.builtin.stall_<D>ms_every_<N>`).
    public func handler(for target: String) -> Handler? {
        handlers[target] ?? BuiltinHandlers.parameterised(target)
    }

    /// Resolves every mapping entry to its handler, indexed like ``ActionMapping/entries``.
    public func resolve(_ mapping: ActionMapping) throws(MissingHandlersError) -> [Handler] {
        var resolved: [Handler] = []
        var missing: [MappingEntry] = []
        for entry in mapping.entries {
            if let handler = handler(for: entry.target) {
                resolved.append(handler)
            } else {
                missing.append(entry)
            }
        }
        guard missing.isEmpty else { throw MissingHandlersError(entries: missing) }
        return resolved
    }
}

/// Mapped targets that have no registered handler.
public struct MissingHandlersError: Error, CustomStringConvertible, Sendable {
    public let entries: [MappingEntry]
    public var description: String {
        "no handler registered for " + entries.map { "\($0.target) (mapped by \($0.pattern.text) at \($0.location))" }.joined(separator: ", ")
    }
}
