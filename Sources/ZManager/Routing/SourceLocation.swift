/// Where a flow step or a mapping entry was written: the file path and the 1-based line.
///
/// Kept on every loaded flow and mapping entry so that errors found later (a duplicate across
/// two files, a step no mapping entry resolves) can point at the exact line to fix, not just
/// say "somewhere in your configuration".
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file path as it was given to the loader (not made absolute, so messages stay short).
    public let path: String
    /// The 1-based line number; 0 when the thing was not read from a line (built in code).
    public let line: Int

    public init(path: String, line: Int) {
        self.path = path
        self.line = line
    }

    /// The location of something built in code rather than read from a file.
    public static let inCode = SourceLocation(path: "<in code>", line: 0)

    /// `path:line`, the form compilers use, so editors and terminals can jump to it.
    public var description: String { line > 0 ? "\(path):\(line)" : path }
}
