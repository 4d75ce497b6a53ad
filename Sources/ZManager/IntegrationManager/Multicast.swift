package import ZeroMQ

/// How the Integration Manager's publication also goes to a multicast group
/// (``Endpoints/integrationManagerMulticast``): the same XPUB socket, so every message is
/// published once, in the same order, to the connected subscribers and to the group.
///
/// The transport is libzmq's PGM (OpenPGM): `epgm://` is PGM over UDP and needs no privileges,
/// `pgm://` is raw PGM and needs root. Receivers join the group with a SUB connected to the same
/// endpoint (their own interface address first). What that changes:
/// - **No subscriptions travel upstream.** libzmq subscribes the group's pipe to everything, and
///   the IM cannot know who listens, so with a group configured it never ends a flow with
///   ``ErrorKind/noSubscriber``; receivers filter by topic themselves.
/// - **The rate is a ceiling.** A sender transmits at most ``rateKilobitsPerSecond``; above it
///   the group's queue fills to the high-water mark, and then, as for any subscriber without
///   room (`ZMQ_XPUB_NODROP`), the IM publishes ``ErrorKind/subscriberFull`` instead of losing
///   the message unseen.
/// - **Recovery is bounded.** A receiver that misses packets asks for them again (NAK) for up
///   to ``recoveryInterval``; after that the data is gone for that receiver (libzmq then drops
///   its connection and rejoins).
/// - **No CURVE.** PGM has no handshake, so the group gets clear text; a node refuses a group
///   together with ``NodeSecurity`` (``MulticastRefused``).
public struct MulticastOptions: Sendable, Equatable {
    /// The most the IM sends to the group, in kilobits per second (`ZMQ_RATE`). libzmq's own
    /// default, 100 kbit/s, is about a hundred small messages a second; this one is 100 Mbit/s.
    public var rateKilobitsPerSecond = 100_000
    /// How long the IM keeps sent data for receivers to recover (`ZMQ_RECOVERY_IVL`).
    public var recoveryInterval: Duration = .seconds(10)
    /// Routers a multicast packet may cross (`ZMQ_MULTICAST_HOPS`); 1 stays on the local network.
    public var hops = 1

    public init(rateKilobitsPerSecond: Int = 100_000, recoveryInterval: Duration = .seconds(10), hops: Int = 1) {
        self.rateKilobitsPerSecond = rateKilobitsPerSecond
        self.recoveryInterval = recoveryInterval
        self.hops = hops
    }

    /// The endpoint schemes a group may use.
    public static let schemes = ["epgm://", "pgm://"]

    /// Whether `endpoint` is a multicast one (`epgm://` or `pgm://`).
    public static func isMulticast(_ endpoint: String) -> Bool {
        schemes.contains(where: endpoint.hasPrefix)
    }

    /// What a group endpoint must look like, for error messages.
    public static let expected = "epgm://INTERFACE;GROUP:PORT (or pgm://, which needs root), INTERFACE the sending "
        + "interface's IPv4 address, GROUP an IPv4 multicast address 224.0.0.0-239.255.255.255, such as "
        + "epgm://192.168.1.10;239.192.1.1:5555"

    /// Why `endpoint` is not a usable group endpoint; nil when it is.
    public static func problem(with endpoint: String) -> String? {
        guard let scheme = schemes.first(where: endpoint.hasPrefix) else {
            if endpoint.hasPrefix("norm://") { return "NORM is not supported (only PGM: epgm:// or pgm://)" }
            return "not a multicast endpoint"
        }
        let rest = endpoint.dropFirst(scheme.count)
        guard let semicolon = rest.firstIndex(of: ";"), semicolon != rest.startIndex else {
            return "the sending interface is missing before ';'"
        }
        let target = rest[rest.index(after: semicolon)...]
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]), port > 0 else {
            return "the port is missing or not 1-65535"
        }
        let octets = target[..<colon].split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil }), let first = octets[0], (224...239).contains(first) else {
            return "\(target[..<colon]) is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"
        }
        return nil
    }
}

/// A node cannot secure a multicast group: CURVE needs a handshake per connection, and PGM has
/// none, so the group would carry the publication in clear text past the authentication.
public struct MulticastRefused: Error, CustomStringConvertible {
    public let description = "CURVE security cannot protect a multicast group (PGM has no handshake, so the "
        + "publication would go out unencrypted and unauthenticated): configure either security or the group"
    public init() {}
}

extension Socket {
    /// Rate, recovery interval and hops for a PGM endpoint; before it is bound or connected.
    package func applyMulticast(_ options: MulticastOptions) throws(ZMQError) {
        try setMulticastRate(kilobitsPerSecond: options.rateKilobitsPerSecond)
        try setRecoveryInterval(options.recoveryInterval)
        try setMulticastHops(options.hops)
    }
}
