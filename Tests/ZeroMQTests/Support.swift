import Foundation
import ZeroMQ

/// The three transports every socket test runs over.
enum Transport: String, CaseIterable, Sendable {
    case inproc, ipc, tcp

    /// An endpoint to bind: unique per call, loopback only.
    func bindEndpoint() -> String {
        switch self {
        case .inproc: "inproc://test-\(UUID().uuidString)"
        case .ipc: "ipc://\(FileManager.default.temporaryDirectory.path)/zmq-test-\(UUID().uuidString.prefix(8)).sock"
        case .tcp: "tcp://127.0.0.1:*"
        }
    }

    /// A PULL bound on this transport (5 s receive timeout) and a PUSH connected to it.
    func pushPullPair(in context: Context) throws -> (pull: Socket, push: Socket) {
        let pull = try Socket(context, .pull)
        try pull.setReceiveTimeout(.seconds(5))
        let endpoint = try bind(pull)
        let push = try Socket(context, .push)
        try push.connect(endpoint)
        return (pull, push)
    }

    /// Binds `socket` and returns the endpoint peers connect to (wildcard port resolved).
    func bind(_ socket: Socket) throws -> String {
        try socket.bind(bindEndpoint())
        return try socket.lastEndpoint
    }
}


/// Waits for `condition` to become true, checking every millisecond, at most `timeout`.
/// Used for effects that happen on libzmq's I/O thread (no signal to wait on there).
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.001)
    }
    return condition()
}
