#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A fresh directory under the system's temporary directory, removed after `body` runs.
/// Files are given as name → text; a name ending in `/` creates a subdirectory instead.
func withTemporaryDirectory(
    files: [String: String], _ body: (String) throws -> Void
) throws {
    let fm = FileManager.default
    let directory = fm.temporaryDirectory.appendingPathComponent("zmanager-routing-\(UUID().uuidString)").path
    try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? fm.removeItem(atPath: directory) }
    for (name, text) in files {
        let path = directory + "/" + name
        if name.hasSuffix("/") {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        } else {
            guard fm.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw TemporaryDirectoryError(path: path)
            }
        }
    }
    try body(directory)
}

struct TemporaryDirectoryError: Error {
    let path: String
}
