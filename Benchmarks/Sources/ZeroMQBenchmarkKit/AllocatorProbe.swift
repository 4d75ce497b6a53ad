#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which malloc this process runs on, found without linking anything: jemalloc exports
/// `mallctl`, glibc does not. The lookup goes through the process's global symbol scope,
/// so it sees jemalloc whether it was linked into the executable or preloaded.
public enum AllocatorProbe {
    typealias MallctlFunction = @convention(c) (
        UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?, UnsafeMutableRawPointer?, Int
    ) -> CInt

    /// "jemalloc 5.3.0" or "glibc malloc".
    public static var name: String {
        guard let mallctl = mallctl else { return "glibc malloc" }
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "jemalloc (version unknown)" }
        return "jemalloc " + (String(cString: version).split(separator: "-").first.map(String.init) ?? "")
    }

    static var mallctl: MallctlFunction? {
        guard let process = dlopen(nil, RTLD_NOW) else { return nil }
        defer { dlclose(process) }
        guard let symbol = dlsym(process, "mallctl") else { return nil }
        return unsafeBitCast(symbol, to: MallctlFunction.self)
    }
}
