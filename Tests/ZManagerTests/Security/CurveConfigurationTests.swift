import Foundation
import Testing
import ZManager
import ZeroMQ

/// Certificate files (the format pyzmq and CZMQ read) and `security.curve` in serve's
/// configuration: what is read, and errors that name the file, the line and what was expected.
@Suite("Security: certificates and configuration", .enabled(if: CurveKeyPair.isAvailable, "libzmq without CURVE"))
struct CurveConfigurationTests {
    static let flows = "[F]\n?F?Push\n??done\n"

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test func certificatesAreWrittenPrivatelyAndReadBack() throws {
        try withTemporaryDirectory(files: [:]) { directory in
            let pair = try CurveKeyPair.generate()
            let paths = try CurveCertificate.write(keyPair: pair, name: "server", directory: directory)
            #expect(paths.public == directory + "/server.key" && paths.secret == directory + "/server.key_secret")
            #expect(Self.mode(paths.secret) == 0o600)
            #expect(Self.mode(paths.public) == 0o644)
            let secret = try CurveCertificate.load(path: paths.secret, requireSecret: true)
            #expect(secret.name == "server" && secret.keyPair == pair)
            let published = try CurveCertificate.load(path: paths.public)
            #expect(published.publicKey == pair.publicKey && published.secretKey == nil)
            #expect(!(try String(contentsOfFile: paths.public, encoding: .utf8)).contains(pair.secretKey.z85))

            // Never replaced by accident.
            let again = #expect(throws: ConfigurationError.self) {
                try CurveCertificate.write(keyPair: try CurveKeyPair.generate(), name: "server", directory: directory)
            }
            #expect("\(again.map { "\($0)" } ?? "")".contains("already exists"))
            #expect(try CurveCertificate.load(path: paths.secret).keyPair == pair)
        }
    }

    /// pyzmq's `zmq.auth.create_certificates` writes this (quotes, banner, metadata section).
    @Test func aPyzmqCertificateIsRead() throws {
        let pair = try CurveKeyPair.generate()
        let text = """
            #   ****  Generated on 2026-12-02 10:00:00 by pyzmq  ****
            #   ZeroMQ CURVE **Secret** Certificate
            #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

            metadata
            curve
                public-key = "\(pair.publicKey.z85)"
                secret-key = "\(pair.secretKey.z85)"

            """
        try withTemporaryDirectory(files: ["client.key_secret": text, "keys/": ""]) { directory in
            chmod(directory + "/client.key_secret", 0o600)
            let publicText = text.split(separator: "\n").filter { !$0.contains("secret-key") }.joined(separator: "\n")
            try publicText.write(toFile: directory + "/keys/a.key", atomically: true, encoding: .utf8)
            try "not a key".write(toFile: directory + "/keys/notes.txt", atomically: true, encoding: .utf8)
            let certificate = try CurveCertificate.load(path: directory + "/client.key_secret", requireSecret: true)
            #expect(certificate.keyPair == pair && certificate.name == "client")
            let listed = try CurveCertificate.loadPublic(path: directory + "/keys")
            #expect(listed.map(\.name) == ["a"], "only *.key files of a directory")
        }
    }

    @Test(arguments: [
        ("metadata\ncurve\n    public-key = \"short\"\n", 3, "public-key: expected 40 Z85 characters in quotes, found \"short\""),
        ("# nothing here\n", nil, "expected a ZeroMQ CURVE certificate with `public-key = \"…\"` under `curve`"),
    ] as [(String, Int?, String)])
    func aBadCertificateNamesItsLine(text: String, line: Int?, message: String) throws {
        try withTemporaryDirectory(files: ["bad.key": text]) { directory in
            let error = #expect(throws: ConfigurationError.self) { try CurveCertificate.load(path: directory + "/bad.key") }
            #expect(error?.line == line)
            #expect(error?.message.contains(message) == true, "got: \(error.map { "\($0)" } ?? "")")
        }
    }

    @Test func aSecretOthersCanReadOrThatIsNotTheirsIsRefused() throws {
        try withTemporaryDirectory(files: [:]) { directory in
            let pair = try CurveKeyPair.generate()
            let paths = try CurveCertificate.write(keyPair: pair, name: "leaky", directory: directory)
            chmod(paths.secret, 0o644)
            let leaky = #expect(throws: ConfigurationError.self) { try CurveCertificate.load(path: paths.secret) }
            #expect(leaky?.message.contains("others can read it (mode 0644); run chmod 600") == true)

            let other = try CurveKeyPair.generate()
            let mixed = "curve\n    public-key = \"\(pair.publicKey.z85)\"\n    secret-key = \"\(other.secretKey.z85)\"\n"
            try mixed.write(toFile: directory + "/mixed.key_secret", atomically: true, encoding: .utf8)
            chmod(directory + "/mixed.key_secret", 0o600)
            let error = #expect(throws: ConfigurationError.self) { try CurveCertificate.load(path: directory + "/mixed.key_secret") }
            #expect(error?.line == 3 && error?.message.contains("does not belong to the public-key of line 2") == true)

            let notSecret = #expect(throws: ConfigurationError.self) {
                try CurveCertificate.load(path: paths.public, requireSecret: true)
            }
            #expect(notSecret?.message.contains("found only a public key") == true)
        }
    }

    /// Key files for a configuration: a server, two clients in a directory.
    static func keys(in directory: String) throws -> (server: CurveKeyPair, clients: [CurveKeyPair]) {
        let server = try CurveKeyPair.generate()
        _ = try CurveCertificate.write(keyPair: server, name: "server", directory: directory)
        try FileManager.default.createDirectory(atPath: directory + "/clients", withIntermediateDirectories: true)
        var clients: [CurveKeyPair] = []
        for name in ["alice", "worker-b"] {
            let pair = try CurveKeyPair.generate()
            _ = try CurveCertificate.write(keyPair: pair, name: name, directory: directory + "/clients")
            clients.append(pair)
        }
        return (server, clients)
    }

    @Test func serveAndAConnectingPartyReadTheirKeys() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let (server, clients) = try Self.keys(in: directory)
            let config = try ServeConfiguration.parse("""
                flows: flows.ini
                security:
                  curve:
                    secret_key: server.key_secret
                    clients: clients
                """, file: directory + "/zmanager.yaml")
            let curve = try #require(config.curve)
            let serving = try curve.serving()
            #expect(serving.curve.server == server && serving.curve.serverKey == server.publicKey)
            #expect(serving.allowed == [clients[0].publicKey: "alice", clients[1].publicKey: "worker-b"])
            #expect(serving.curve.zapDomain == "zmanager")
            // serve's own worker processes read the same file: they present the server's pair.
            #expect(try curve.connecting().client == server)

            // A worker on another host has only the server's public key and its own pair.
            let remote = try ServeConfiguration.parse("""
                flows: flows.ini
                security:
                  curve: {server_key: server.key, client_key: clients/worker-b.key_secret, zap_domain: prod}
                """, file: directory + "/remote.yaml")
            let connecting = try #require(remote.curve).connecting()
            #expect(connecting.server == nil && connecting.serverKey == server.publicKey && connecting.client == clients[1])
            #expect(connecting.zapDomain == "prod")
            let refused = #expect(throws: ConfigurationError.self) { try remote.curve!.serving() }
            #expect("\(refused.map { "\($0)" } ?? "")".hasSuffix("remote.yaml:3: security.curve: serve needs secret_key (the server's certificate, written by zmanager keygen)"))
        }
    }

    @Test(arguments: [
        ("security:\n  curve:\n    clients: clients\n",
         "zmanager.yaml:4: security.curve: expected secret_key (serve) or server_key (a party that connects to it)"),
        ("security:\n  curve:\n    secret_key: server.key_secret\n    server_key: clients/alice.key\n",
         "zmanager.yaml:5: security.curve.server_key: is not the public key of secret_key"),
        ("security:\n  curve:\n    secret_key: server.key\n",
         "found only a public key (named by security.curve.secret_key at "),
        ("security:\n  curve:\n    secret_key: server.key_secret\n    clients: [clients, missing]\n",
         "no such certificate file or directory (named by security.curve.clients[1] at "),
        ("security:\n  curve:\n    secret_key: server.key_secret\n    allow: everyone\n",
         "zmanager.yaml:5: security.curve.allow: unknown key"),
        ("security:\n  tls: on\n", "zmanager.yaml:3: security.tls: unknown key"),
    ])
    func badSecurityKeysNameFileLineAndExpectation(text: String, message: String) throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            _ = try Self.keys(in: directory)
            let error = #expect(throws: ConfigurationError.self) {
                try ServeConfiguration.parse("flows: flows.ini\n" + text, file: directory + "/zmanager.yaml")
            }
            let description = error.map { "\($0)" } ?? ""
            #expect(description.contains(message), "got: \(description)")
        }
    }
}
