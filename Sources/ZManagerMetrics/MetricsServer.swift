import FlyingFox
import FlyingSocks
import Foundation
public import ZManager

/// The HTTP endpoint of a node or a worker: `GET /metrics` (Prometheus text format) and
/// `GET /health` (200 `ok`, or 503 with the reason).
///
/// FlyingFox serves it: no dependencies of its own and a few seconds of build, where a
/// SwiftNIO server (Hummingbird, Vapor) adds minutes to every clean build for two routes
/// scraped every few seconds. Its socket pool waits in `epoll` on a Dispatch queue, not on
/// a thread of Swift's cooperative pool; the role threads never touch it.
public final class MetricsServer: Sendable {
    private let server: HTTPServer
    private let task: Task<Void, any Error>
    /// The address bound (with port 0 resolved).
    public let address: ListenAddress

    /// Binds `address` and starts serving; returns once it listens.
    /// - Throws: ``MetricsServerError`` when the address cannot be bound within 5 s.
    public init(address: ListenAddress, exporter: MetricsExporter, health: @escaping @Sendable () -> Health) throws {
        let server: HTTPServer
        do {
            server = HTTPServer(address: try sockaddr_in.inet(ip4: address.host, port: address.port), logger: .disabled)
        } catch {
            throw MetricsServerError(message: "metrics: cannot use \(address): \(error)")
        }
        let routes = Task {
            await server.appendRoute("GET /metrics") { _ in
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                             body: Data(exporter.render().utf8))
            }
            await server.appendRoute("GET /health") { _ in
                let verdict = health()
                return HTTPResponse(statusCode: verdict.isReady ? .ok : .serviceUnavailable,
                                    headers: [.contentType: "text/plain; charset=utf-8"], body: Data((verdict.reason + "\n").utf8))
            }
        }
        self.server = server
        task = Task {
            _ = await routes.result
            try await server.run()
        }
        // Wait (this is a plain thread, not a task) until it listens or gives up.
        let bound = Self.wait {
            try await server.waitUntilListening(timeout: 5)
            guard case .ip4(let host, let port)? = await server.listeningAddress else { return nil as ListenAddress? }
            return ListenAddress(host: host, port: port)
        }
        guard case .success(let resolved?) = bound else {
            task.cancel()
            let reason: String
            switch bound {
            case .failure(let error): reason = "\(error)"
            default: reason = "no address"
            }
            throw MetricsServerError(message: "metrics: cannot listen on \(address): \(reason)")
        }
        self.address = resolved
    }

    /// Stops serving (open connections are closed).
    public func stop() {
        let server = self.server
        _ = Self.wait { await server.stop(timeout: 1) }
        task.cancel()
    }

    /// Runs `body` on the concurrency runtime and blocks this (non-task) thread for its result.
    private static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return box.get()
    }
}

/// A metrics endpoint that could not be started.
public struct MetricsServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Hands a result from a task to the thread that waits for it.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` is written once by the task before it signals the
    // semaphore and read by the waiter only after the wait returns (the semaphore orders them).
    private var value: Result<T, any Error>?
    func set(_ result: Result<T, any Error>) { value = result }
    func get() -> Result<T, any Error> { value! }
}
