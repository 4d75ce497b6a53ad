import CJemalloc

/// The executable is linked with jemalloc (`libjemalloc-dev`), which replaces glibc's
/// malloc process-wide: glibc hands freed 64 KiB blocks back to the kernel, so every reuse
/// page-faults (measured ×3.4 at 64 KiB). Asking jemalloc for its version both
/// proves it is the allocator in use and keeps the linker from dropping the library.
enum Allocator {
    static var name: String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "glibc malloc" }
        // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": keep the release number.
        let full = String(cString: version)
        return "jemalloc " + (full.split(separator: "-").first.map(String.init) ?? full)
    }
}
