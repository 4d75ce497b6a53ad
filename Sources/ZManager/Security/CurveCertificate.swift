import Foundation
public import ZeroMQ

/// A CURVE certificate file, in the ZPL format libzmq's CZMQ and pyzmq write and read
/// (`zmq.auth.create_certificates`, `zmq.auth.load_certificate`):
///
/// ```
/// #   ZeroMQ CURVE Public Certificate
/// metadata
/// curve
///     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
/// ```
///
/// `NAME.key` holds the public key and may be given to anyone; `NAME.key_secret` holds both keys
/// and must stay with its owner (``zmanager keygen`` writes it with mode 0600 and the loader
/// refuses one that others can read, as ssh does).
public struct CurveCertificate: Sendable, Hashable {
    /// The file's name without `.key` / `.key_secret`: how logs name the party.
    public var name: String
    public var publicKey: CurveKey
    public var secretKey: CurveKey?
    /// The file it was read from.
    public var file: String

    public init(name: String, publicKey: CurveKey, secretKey: CurveKey? = nil, file: String = "") {
        self.name = name
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.file = file
    }

    /// Both keys, for a certificate read from a secret file.
    public var keyPair: CurveKeyPair? {
        guard let secretKey else { return nil }
        return try? CurveKeyPair(secretKey: secretKey)
    }

    /// The public-key suffix, and the secret one.
    public static let publicSuffix = ".key"
    public static let secretSuffix = ".key_secret"

    /// Reads one certificate file.
    /// - Parameter requireSecret: the file must carry `secret-key` (and be private to its owner).
    public static func load(path: String, requireSecret: Bool = false) throws(ConfigurationError) -> CurveCertificate {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message: "cannot read the certificate file")
        }
        var publicKey: (CurveKey, Int)?
        var secretKey: (CurveKey, Int)?
        var section = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let indented = raw.first == " " || raw.first == "\t"
            let content = raw.trimmingCharacters(in: .whitespaces)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if !indented {
                section = content
                continue
            }
            guard section == "curve", let equals = content.firstIndex(of: "=") else { continue }
            let name = content[..<equals].trimmingCharacters(in: .whitespaces)
            let value = content[content.index(after: equals)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
            guard name == "public-key" || name == "secret-key" else { continue }
            guard let key = CurveKey(z85: value) else {
                throw ConfigurationError(file: path, line: line, keyPath: "", message:
                    "\(name): expected 40 Z85 characters in quotes, found \"\(value)\"")
            }
            if name == "public-key" { publicKey = (key, line) } else { secretKey = (key, line) }
        }
        guard let (publicKey, publicLine) = publicKey else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message:
                "expected a ZeroMQ CURVE certificate with `public-key = \"…\"` under `curve` (zmanager keygen writes one)")
        }
        if let (secretKey, line) = secretKey {
            guard (try? CurveKeyPair(secretKey: secretKey))?.publicKey == publicKey else {
                throw ConfigurationError(file: path, line: line, keyPath: "", message:
                    "secret-key does not belong to the public-key of line \(publicLine)")
            }
            var status = stat()
            if stat(path, &status) == 0, status.st_mode & 0o077 != 0 {
                throw ConfigurationError(file: path, line: nil, keyPath: "", message: String(
                    format: "holds a secret key but others can read it (mode %04o); run chmod 600 on it", status.st_mode & 0o7777))
            }
        } else if requireSecret {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message:
                "expected a secret certificate (`secret-key = \"…\"` under `curve`, a \(secretSuffix) file), found only a public key")
        }
        return CurveCertificate(name: Self.name(ofFile: path), publicKey: publicKey, secretKey: secretKey?.0, file: path)
    }

    /// Reads the public certificates at `path`: one file, or every `*.key` file of a directory
    /// (sorted; pyzmq's `zmq.auth.load_certificates` reads the same).
    public static func loadPublic(path: String) throws(ConfigurationError) -> [CurveCertificate] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message: "no such certificate file or directory")
        }
        guard isDirectory.boolValue else { return [try load(path: path)] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasSuffix(publicSuffix) && !$0.hasPrefix(".") }.sorted()
        var result: [CurveCertificate] = []
        for name in names { result.append(try load(path: "\(path)/\(name)")) }
        return result
    }

    static func name(ofFile path: String) -> String {
        var name = URL(fileURLWithPath: path).lastPathComponent
        for suffix in [secretSuffix, publicSuffix] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
            break
        }
        return name
    }

    /// The file's text: the public certificate, or with `secret` the secret one.
    public static func text(publicKey: CurveKey, secretKey: CurveKey?, generator: String = "zmanager keygen") -> String {
        let banner = secretKey == nil
            ? "#   ZeroMQ CURVE Public Certificate\n#   Give it to the parties that must accept this one (security.curve.clients).\n"
            : "#   ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
        var text = "#   ****  Generated by \(generator)  ****\n" + banner + "\nmetadata\ncurve\n"
        text += "    public-key = \"\(publicKey.z85)\"\n"
        if let secretKey { text += "    secret-key = \"\(secretKey.z85)\"\n" }
        return text
    }

    /// Writes `DIRECTORY/NAME.key` (public, mode 0644) and `DIRECTORY/NAME.key_secret` (both
    /// keys, mode 0600, created that way so the secret is never readable by others). Refuses
    /// to replace existing files unless `overwrite`.
    /// - Returns: the two paths.
    public static func write(keyPair: CurveKeyPair, name: String, directory: String,
                             overwrite: Bool = false) throws(ConfigurationError) -> (public: String, secret: String) {
        let publicPath = "\(directory)/\(name)\(publicSuffix)"
        let secretPath = "\(directory)/\(name)\(secretSuffix)"
        if !overwrite {
            for path in [publicPath, secretPath] where FileManager.default.fileExists(atPath: path) {
                throw ConfigurationError(file: path, line: nil, keyPath: "", message: "already exists (pass --force to replace it)")
            }
        }
        try writeFile(secretPath, text(publicKey: keyPair.publicKey, secretKey: keyPair.secretKey), mode: 0o600)
        try writeFile(publicPath, text(publicKey: keyPair.publicKey, secretKey: nil), mode: 0o644)
        return (publicPath, secretPath)
    }

    private static func writeFile(_ path: String, _ text: String, mode: mode_t) throws(ConfigurationError) {
        unlink(path)  // a new inode, so an old file's wider permissions cannot carry over
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message: "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fchmod(fd, mode) == 0 else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
