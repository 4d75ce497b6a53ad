public import ArgumentParser
import Foundation
import ZManager
import ZeroMQ

/// `zmanager keygen NAME`: a CURVE key pair as two certificate files, in the format pyzmq's
/// `zmq.auth.load_certificate` and CZMQ read.
public struct KeygenCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: NAME.key (public, for the other side) and NAME.key_secret (private, mode 0600).",
        discussion: """
            Give the server's NAME.key to every party that connects (security.curve.server_key), and put every \
            client's NAME.key in the server's security.curve.clients directory. Prints the two paths and the \
            public key. docs/SECURITY.md explains the keys and what CURVE protects.
            """
    )

    @Argument(help: "The certificate's name: the file names, and how the server's logs name the party.")
    var name: String

    @Option(name: .shortAndLong, help: "The directory to write to (created if missing).")
    var directory: String = "."

    @Flag(help: "Replace existing files of that name.")
    var force = false

    public func validate() throws {
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("NAME: expected letters, digits, '-', '_' or '.' (not first), found \"\(name)\"")
        }
        guard CurveKeyPair.isAvailable else { throw ValidationError("this libzmq was built without CURVE (libsodium)") }
    }

    public init() {}

    public func run() throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw KeygenError(description: "cannot create \(directory): \(error.localizedDescription)")
        }
        let pair = try CurveKeyPair.generate()
        let paths: (public: String, secret: String)
        do {
            paths = try CurveCertificate.write(keyPair: pair, name: name, directory: directory, overwrite: force)
        } catch {
            throw KeygenError(description: error.description)  // a runtime failure: no usage text
        }
        print("public=\(paths.public) secret=\(paths.secret) public_key=\(pair.publicKey.z85)")
    }
}

struct KeygenError: Error, CustomStringConvertible {
    let description: String
}
