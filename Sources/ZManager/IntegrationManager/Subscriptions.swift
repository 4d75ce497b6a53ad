#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The topic prefixes subscribed at the Integration Manager's XPUB socket, kept from the
/// subscription messages the XPUB hands up, so the IM can tell a step nobody would receive
/// (``ErrorKind/noSubscriber``).
///
/// A non-verbose XPUB reports a prefix's first subscription and its last unsubscription only,
/// including those of a subscriber that disconnects, so a set of prefixes mirrors libzmq's own
/// subscription trie. A handful of prefixes per service is the expected size; a lookup is a scan.
struct Subscriptions {
    private(set) var prefixes: [[UInt8]] = []
    /// A multicast group hears everything: libzmq subscribes its pipe to all topics without
    /// telling the application, and who listens on the group is unknown (``MulticastOptions``).
    var everything = false

    /// Applies one message from the XPUB: `1` + prefix subscribes, `0` + prefix unsubscribes;
    /// anything else (a SUB cannot send other messages) is ignored.
    mutating func apply(_ message: UnsafeRawBufferPointer) {
        guard let verb = message.first, verb <= 1 else { return }
        let prefix = Array(message.dropFirst())
        let index = prefixes.firstIndex(of: prefix)
        switch (verb, index) {
        case (1, nil): prefixes.append(prefix)
        case (0, let index?): prefixes.remove(at: index)
        default: break
        }
    }

    /// Whether any subscribed prefix starts `topic` (the empty prefix starts every topic).
    func matches(_ topic: UnsafeRawBufferPointer) -> Bool {
        if everything { return true }
        return prefixes.contains { prefix in
            if prefix.isEmpty { return true }
            guard prefix.count <= topic.count, let base = topic.baseAddress else { return false }
            return prefix.withUnsafeBytes { memcmp($0.baseAddress!, base, prefix.count) == 0 }
        }
    }
}
