import CJemallocProbe
import JemallocConfig

#if canImport(Glibc)
import Glibc
#endif

/// The check every jemalloc-linked benchmark makes before registering anything.
public enum Jemalloc {
    /// "jemalloc 5.3.0 narenas 1", after proving that `malloc` lands in jemalloc: `mallctl`
    /// must answer and jemalloc's per-thread allocated-bytes counter must grow by at least the
    /// size of a `malloc`. Under the benchmark plugin this runs with the malloc interposer
    /// preloaded, so it also proves that the interposer forwards to jemalloc.
    public static func verifiedName() -> String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        precondition(mallctl("version", &version, &size, nil, 0) == 0 && version != nil, "jemalloc is not linked")
        let before = allocatedBytes()
        let block = malloc(64 << 10)
        // Using the pointer keeps the optimiser from eliding the malloc/free pair.
        precondition(malloc_usable_size(block) >= 64 << 10)
        let after = allocatedBytes()
        free(block)
        precondition(after - before >= 64 << 10, "malloc does not go through jemalloc (\(before) → \(after) bytes)")
        precondition(jemalloc_config_linked() == 1)
        var arenas: CUnsignedInt = 0
        size = MemoryLayout<CUnsignedInt>.size
        precondition(mallctl("opt.narenas", &arenas, &size, nil, 0) == 0, "mallctl(opt.narenas) failed")
        let release = String(cString: version!).split(separator: "-").first.map(String.init) ?? ""
        return "jemalloc \(release) narenas \(arenas)"
    }

    /// `thread.allocated`: bytes this thread has allocated so far (jemalloc built with stats).
    static func allocatedBytes() -> UInt64 {
        var value: UInt64 = 0
        var size = MemoryLayout<UInt64>.size
        precondition(mallctl("thread.allocated", &value, &size, nil, 0) == 0, "mallctl(thread.allocated) failed")
        return value
    }
}
