#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The INI-like line syntax shared by flow files and action-mapping files, and the file-system
/// access both loaders need. Internal: the public surface is ``FlowTable`` and ``ActionMapping``.
///
/// One lexer for both keeps their rules identical: lines are trimmed; `;` or `#` starts a comment
/// anywhere on a line (neither character can occur in an action key, a flow name or a target, so
/// this never cuts real content; DigitalPy only tolerated a trailing `# ...` after flow steps by
/// accident of prefix matching); blank lines are skipped.
struct ConfigurationLine {
    /// 1-based line number.
    let number: Int
    /// The line with its comment removed and surrounding whitespace trimmed; never empty.
    let content: Substring
    /// Number of Unicode scalars before `content` in the raw line, so column numbers reported
    /// for `content` can be turned into columns of the file line.
    let columnOffset: Int

    /// What a non-blank line is.
    enum Kind {
        /// `[name]`, name trimmed.
        case section(Substring)
        /// Starts with `[` but has no closing `]` at the end.
        case malformedSection
        /// Anything else: a flow step or a mapping entry.
        case entry
    }

    var kind: Kind {
        guard content.first == "[" else { return .entry }
        guard content.count >= 2, content.last == "]" else { return .malformedSection }
        let inner = content.dropFirst().dropLast()
        return .section(inner.trimmingBlanks())
    }

    /// Splits text into its meaningful lines. `\n`, `\r\n` and `\r` all end a line.
    static func lines(of text: String) -> [ConfigurationLine] {
        var result: [ConfigurationLine] = []
        var number = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let uncommented = raw.prefix { $0 != ";" && $0 != "#" }
            let leading = uncommented.prefix { $0.isWhitespace }
            let content = uncommented.trimmingBlanks()
            guard !content.isEmpty else { continue }
            result.append(
                ConfigurationLine(
                    number: number, content: content, columnOffset: leading.unicodeScalars.count))
        }
        return result
    }
}

extension Substring {
    /// Trims spaces, tabs and other whitespace at both ends (without Foundation's CharacterSet).
    func trimmingBlanks() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}

/// A file-system problem, turned into each loader's own error type by the caller.
struct FileProblem: Error {
    let path: String
    let reason: String
}

/// Reading configuration files and listing a configuration directory.
enum ConfigurationFiles {
    /// The file's text; it must be valid UTF-8 (a stray Latin-1 byte would otherwise become a
    /// replacement character inside an action key and fail later with a confusing message).
    static func read(_ path: String) throws(FileProblem) -> String {
        let fm = FileManager.default
        var isDirectory = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileProblem(path: path, reason: "no such file")
        }
        guard !isDirectory else { throw FileProblem(path: path, reason: "is a directory, expected a file") }
        guard let data = fm.contents(atPath: path) else {
            throw FileProblem(path: path, reason: "cannot be read")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw FileProblem(path: path, reason: "is not valid UTF-8 text")
        }
        return text
    }

    /// The `*.ini` files directly inside `directory` (not recursive, hidden files skipped),
    /// as paths, sorted by their names' bytes so that loading order, and so which of two
    /// duplicates is reported as "first", is the same on every machine and locale.
    static func iniFiles(in directory: String) throws(FileProblem) -> [String] {
        let fm = FileManager.default
        var isDirectory = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw FileProblem(path: directory, reason: "no such directory")
        }
        guard isDirectory else { throw FileProblem(path: directory, reason: "is not a directory") }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: directory)
        } catch {
            throw FileProblem(path: directory, reason: "cannot be listed")
        }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return names
            .filter { $0.hasSuffix(".ini") && !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { prefix + $0 }
            .filter { path in
                var isDir = false
                return fm.fileExists(atPath: path, isDirectory: &isDir) && !isDir
            }
    }
}
