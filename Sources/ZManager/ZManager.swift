/// ZManager: DigitalPy's message-routing architecture on libzmq.
///
/// Data flow (one folder per role under `Sources/ZManager`):
/// service → ``Subject`` (PULL, PUSH round-robin) → ``Worker`` ×N (routes each message through
/// the action mapping) → ``IntegrationManager`` (PULL in, PUB out) → subscribers.
public enum ZManagerInfo {
    /// The version of this package's wire protocol documentation (`docs/PROTOCOL.md`).
    public static let protocolVersion = 1
}
