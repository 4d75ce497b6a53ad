/// A copy of the leading bytes of the last header a memo saw (its key part: the bytes before
/// the id), compared with the next header by words: what ``HeaderKeyMemo``, ``PositionCache``
/// and the Integration Manager's ``ResultKeyMemo`` remember. A fixed buffer its owner frees.
struct KeyBytes: ~Copyable {
    /// Keys longer than this are not kept.
    static let capacity = 256

    private let storage = UnsafeMutableRawPointer.allocate(byteCount: KeyBytes.capacity, alignment: 8)
    /// Length of the key; -1 while none is kept.
    private(set) var count = -1

    init() {}

    deinit { storage.deallocate() }

    /// Whether `bytes` starts with the key and goes on after it (a non-empty key).
    @inline(__always)
    func isStrictPrefix(of bytes: UnsafeRawBufferPointer) -> Bool {
        let n = count
        guard n > 0, bytes.count > n, let base = bytes.baseAddress else { return false }
        return StaticBytes.same(storage, base, count: n)
    }

    /// Whether the key is exactly the first `n` bytes of `bytes`.
    @inline(__always)
    func isEqual(toFirst n: Int, of bytes: UnsafeRawBufferPointer) -> Bool {
        guard n == count, let base = bytes.baseAddress else { return false }
        return StaticBytes.same(storage, base, count: n)
    }

    /// Keeps the first `n` bytes of `bytes` as the key. False, and the key unchanged, when they
    /// are longer than ``capacity``.
    @inline(__always)
    mutating func remember(first n: Int, of bytes: UnsafeRawBufferPointer) -> Bool {
        guard n <= Self.capacity, let base = bytes.baseAddress else { return false }
        storage.copyMemory(from: base, byteCount: n)
        count = n
        return true
    }

    /// Keeps no key.
    mutating func forget() { count = -1 }
}
