public import ZeroMQ
import ZManager

/// One role of the core under libFuzzer: the role runs on its own thread exactly as in a
/// `threads` deployment, the fuzz input reaches it through the socket it reads, and its sockets'
/// peers are PULLs bound here.
///
/// After every input the harness sends a *sentinel*, a message whose answer is known, and reads
/// every output until that answer arrives. The role handles its input in order, so the answer
/// proves the input was handled; no answer within ``answerTimeout`` is a hang and ends the run
/// (libFuzzer records the input as a crash). Everything a role sends to the Integration Manager
/// or the workers must be a ZManager message (a header with six `~`), else the run ends too.
public final class RoleHarness {
    /// Where the role's outputs arrive, and what the harness checks about them.
    public struct Output {
        let name: String
        let socket: Socket
        /// Whether the header to check is the second frame (a `\0P` park) rather than the first.
        let headerAfterVerb: Bool

        public static func output(_ name: String, _ socket: Socket, headerAfterVerb: Bool = false) -> Output {
            Output(name: name, socket: socket, headerAfterVerb: headerAfterVerb)
        }
    }

    /// Far longer than any wait inside a role (its receive timeouts, the early-answer window)
    /// and than the costliest input seen (a pickle of frozensets nested a thousand deep takes
    /// about 0.4 s under AddressSanitizer), with room for a build starving the fuzzer of CPU:
    /// only a role that stopped serving misses it.
    public static let answerTimeout: Duration = .seconds(60)

    let feed: Socket
    let outputs: [Output]
    let sentinel: (String) -> [[UInt8]]
    let answersSentinel: (UnsafeRawBufferPointer, String) -> Bool
    var round = 0

    /// - Parameters:
    ///   - feed: the socket the role reads its input from (a PUSH bound or connected here).
    ///   - outputs: the sockets the role sends to; the sentinel's answer arrives on the first.
    ///   - sentinel: the frames of the sentinel with the given id.
    ///   - answersSentinel: whether a first frame is the sentinel's answer for the given id.
    public init(feed: Socket, outputs: [Output], sentinel: @escaping (String) -> [[UInt8]],
                answersSentinel: @escaping (UnsafeRawBufferPointer, String) -> Bool) throws(ZMQError) {
        self.feed = feed
        self.outputs = outputs
        self.sentinel = sentinel
        self.answersSentinel = answersSentinel
        try outputs[0].socket.setReceiveTimeout(Self.answerTimeout)
    }

    /// Sends `frames` to the role, then the sentinel, and returns how many outputs the input
    /// caused (the sentinel's answer not counted).
    public func run(_ frames: [[UInt8]]) -> Int {
        round += 1
        let id = "fuzz-sentinel-\(round)"
        do {
            if !frames.isEmpty { _ = try feed.send(multipart: frames) }
            _ = try feed.send(multipart: sentinel(id))
            var count = 0
            while true {
                guard let message = try outputs[0].socket.receiveMultipart() else {
                    fatalError("hang: no answer to the sentinel \(id) within \(Self.answerTimeout)"
                               + " after an input of \(frames.count) frame(s)")
                }
                if message[0].withUnsafeBytes({ answersSentinel($0, id) }) { break }
                check(message, from: outputs[0])
                count += 1
            }
            // The role sent everything before the sentinel's answer, so whatever went to its
            // other peers is already queued there.
            for output in outputs.dropFirst() {
                while let message = try output.socket.receiveMultipart(dontWait: true) {
                    check(message, from: output)
                    count += 1
                }
            }
            return count
        } catch {
            fatalError("the harness's own sockets failed: \(error)")
        }
    }

    private func check(_ message: [[UInt8]], from output: Output) {
        // A published copy travels behind its two-byte marker `\0 C`.
        let index = output.headerAfterVerb || message.first == [0, 0x43] ? 1 : 0
        guard message.count > index else {
            fatalError("\(output.name) got a message of \(message.count) frame(s) without a header")
        }
        let parsed = message[index].withUnsafeBytes { (try? WireHeader.parse($0)) != nil }
        if !parsed {
            fatalError("\(output.name) got a frame that is not a ZManager message: \(Array(message[index].prefix(80)))")
        }
    }
}

/// How a fuzz input becomes frames: split at every `0x1E 0x1E` (two ASCII record separators),
/// at most ``maxFrames`` frames (the rest stays in the last), so one input can be a single-form
/// message, a split one, a control message or a malformed multipart. The corpus under
/// `Fuzz/corpus/` is written the same way.
public enum FuzzFrames {
    public static let separator: [UInt8] = [0x1E, 0x1E]
    public static let maxFrames = 4

    public static func split(_ data: UnsafeRawBufferPointer) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var start = 0
        var i = 0
        while i + 1 < data.count, frames.count < maxFrames - 1 {
            if data[i] == separator[0], data[i + 1] == separator[1] {
                frames.append(Array(data[start..<i]))
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        frames.append(Array(data[start...]))
        return frames
    }
}
