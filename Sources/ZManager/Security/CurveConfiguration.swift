import Foundation
public import ZeroMQ

/// What a node that binds secured endpoints needs: its CURVE settings and the clients its
/// ``Authenticator`` lets in (each public key with the name logs use).
public struct NodeSecurity: Sendable {
    public var curve: CurveSecurity
    public var allowed: [CurveKey: String]

    public init(curve: CurveSecurity, allowed: [CurveKey: String]) {
        self.curve = curve
        self.allowed = allowed
    }
}

/// `security.curve` of a serve configuration: the keys `serve`, `zmanager worker` and services
/// use (see docs/SECURITY.md and `examples/serve/zmanager-curve.yaml`).
///
/// ```yaml
/// security:
///   curve:
///     secret_key: keys/server.key_secret   # serve: the server's certificate (both keys)
///     clients: keys/clients                # serve: public certificates allowed in (*.key)
///     server_key: keys/server.key          # a party on another host: the server's public key
///     client_key: keys/worker-a.key_secret # a party on another host: its own certificate
/// ```
///
/// One file can serve both sides: `serve` needs `secret_key`; a party that only connects uses
/// `server_key` (or the public half of `secret_key`) and `client_key` (or, on the server's own
/// host, `secret_key`: serve's worker processes run so).
public struct CurveConfiguration: Sendable {
    /// `secret_key`: the server's certificate, with its secret key.
    public var server: CurveCertificate?
    /// The server's public key: `server_key`, or the public half of `secret_key`.
    public var serverKey: CurveKey
    /// `client_key`: the certificate a connecting party presents.
    public var client: CurveCertificate?
    /// `clients`: the public certificates allowed to connect.
    public var clients: [CurveCertificate]
    /// `zap_domain`.
    public var zapDomain: String
    /// Where `security.curve` is, for errors about what a role lacks.
    let location: ConfigurationError

    /// The security `serve` binds with, and the clients its authenticator lets in.
    public func serving() throws(ConfigurationError) -> NodeSecurity {
        guard let server, let pair = server.keyPair else {
            throw located("serve needs secret_key (the server's certificate, written by zmanager keygen)")
        }
        var allowed: [CurveKey: String] = [:]
        for certificate in clients { allowed[certificate.publicKey] = certificate.name }
        return NodeSecurity(curve: CurveSecurity(server: pair, serverKey: pair.publicKey, client: pair, zapDomain: zapDomain),
                            allowed: allowed)
    }

    /// The security of a party that only connects (a worker, a service).
    public func connecting() throws(ConfigurationError) -> CurveSecurity {
        guard let pair = client?.keyPair ?? server?.keyPair else {
            throw located("a connecting party needs client_key (its own certificate), or secret_key on the server's host")
        }
        return CurveSecurity(server: nil, serverKey: serverKey, client: pair, zapDomain: zapDomain)
    }

    private func located(_ message: String) -> ConfigurationError {
        ConfigurationError(file: location.file, line: location.line, keyPath: location.keyPath, message: message)
    }

    static let keys = ["secret_key", "server_key", "client_key", "clients", "zap_domain"]

    /// Reads `security.curve`; certificate files are read now, so a bad one is reported at load
    /// with its own file and line and the configuration key that named it.
    static func parse(_ reader: ConfigurationReader, base: URL) throws(ConfigurationError) -> CurveConfiguration {
        try reader.expectMapping(allowed: keys)
        guard CurveKeyPair.isAvailable else {
            throw reader.error("this libzmq was built without CURVE (libsodium); zmq_has(\"curve\") is false")
        }
        func path(_ item: ConfigurationReader) throws(ConfigurationError) -> String {
            let text = try item.string()
            return text.hasPrefix("/") ? text : base.appendingPathComponent(text).standardizedFileURL.path
        }
        func certificate(_ item: ConfigurationReader, secret: Bool) throws(ConfigurationError) -> CurveCertificate? {
            guard item.isPresent else { return nil }
            let file = try path(item)
            do {
                return try CurveCertificate.load(path: file, requireSecret: secret)
            } catch {
                throw Self.named(error, by: item)
            }
        }
        let server = try certificate(reader["secret_key"], secret: true)
        let serverPublic = try certificate(reader["server_key"], secret: false)
        let client = try certificate(reader["client_key"], secret: true)
        if let server, let serverPublic, server.publicKey != serverPublic.publicKey {
            throw reader["server_key"].error("is not the public key of secret_key (\(server.file))")
        }
        guard let serverKey = serverPublic?.publicKey ?? server?.publicKey else {
            throw reader.error("expected secret_key (serve) or server_key (a party that connects to it)")
        }
        var clients: [CurveCertificate] = []
        for item in try reader["clients"].list() {
            let file = try path(item)
            do {
                clients += try CurveCertificate.loadPublic(path: file)
            } catch {
                throw Self.named(error, by: item)
            }
        }
        let domain = try reader["zap_domain"].string(default: "zmanager")
        guard !domain.isEmpty, domain.utf8.count <= 254 else {
            throw reader["zap_domain"].error("expected a name of 1 to 254 bytes")
        }
        return CurveConfiguration(server: server, serverKey: serverKey, client: client, clients: clients, zapDomain: domain,
                                  location: reader.error(""))
    }

    /// A certificate's error, with the configuration key that named the file.
    private static func named(_ error: ConfigurationError, by item: ConfigurationReader) -> ConfigurationError {
        let origin = item.error("")
        let location = origin.line.map { "\(origin.file):\($0)" } ?? origin.file
        return ConfigurationError(file: error.file, line: error.line, keyPath: error.keyPath,
                                  message: "\(error.message) (named by \(origin.keyPath) at \(location))")
    }
}
