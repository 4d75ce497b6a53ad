import Testing
@testable import ZManager
import ZeroMQ

/// An error message that cannot be sent is reported to its caller, which counts it
/// (`errorsNotSent`, `zmanager_errors_not_sent_total`), instead of vanishing in a `try?`.
@Suite("Error messages that cannot be sent")
struct ErrorSendTests {
    @Test func aFailedErrorSendSaysSo() throws {
        let context = try Context()
        let socket = try Socket(context, .push)
        try socket.bind("inproc://error-send-\(UInt64.random(in: 0...UInt64.max))")
        // After shutdown every send throws ETERM at once (a PUSH without peers would block).
        context.shutdown()
        let sent = Outbound.sendError(.noWorkers, role: "Subject", flow: "Echo", id: "id-1", text: "none", form: .split,
                                      to: socket, encodeBody: formAwareErrorBody)
        #expect(!sent)
        socket.close()
        context.terminate()
    }
}
