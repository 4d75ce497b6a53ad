#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The key part of the last result the Integration Manager classified
/// (`config~decorator~~~done~`, the bytes before the id), so that the next result of the same
/// flow is known by a compare of those bytes and a look for its id's `~`.
///
/// Every message the Integration Manager publishes is classified (``IntegrationManager/outcome(of:)``:
/// a result, an error, a step for a service), and almost all of them are results of the same
/// few flows. Classifying one from scratch finds two `~`, compares three static byte strings
/// (each a lazily initialised global, a `swift_once` call) and scans for the id's `~`: about
/// 170 instructions per message (callgrind). A frame that starts with the remembered key is a
/// result exactly when a `~` follows (its config and decorator are the key's, which were
/// neither `zmanager_error` nor `completed_command`), which is what the full classification
/// finds; any other frame is classified in full, and a result becomes the new key.
///
/// One per Integration Manager thread; it owns its key buffer.
struct ResultKeyMemo: ~Copyable {
    /// Keys longer than ``KeyBytes/capacity`` are not remembered: such results are classified
    /// in full.
    private var key = KeyBytes()

    init() {}

    /// `frame`'s outcome, as ``IntegrationManager/outcome(of:)`` finds it.
    @inline(__always)
    mutating func outcome(of frame: UnsafeRawBufferPointer) -> IntegrationManager.Outcome? {
        if key.isStrictPrefix(of: frame), let base = frame.baseAddress {
            let n = key.count
            return memchr(base + n, Int32(WireHeader.delimiter), frame.count - n) != nil ? .result : nil
        }
        let (outcome, resultKeyCount) = IntegrationManager.classify(frame)
        if resultKeyCount > 0 { _ = key.remember(first: resultKeyCount, of: frame) }
        return outcome
    }
}
