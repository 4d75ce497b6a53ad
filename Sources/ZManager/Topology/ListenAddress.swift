/// Where an operator-facing HTTP endpoint listens: an IPv4 address and a port
/// (`127.0.0.1:9464`; port 0 picks a free one, reported once bound).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (`localhost` is 127.0.0.1); nil for anything else.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }) else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }

    /// What ``init(_:)`` accepts, for error messages.
    public static let expected = "HOST:PORT with an IPv4 address and a port 0-65535 (0: any free port), such as 127.0.0.1:9464"

}
