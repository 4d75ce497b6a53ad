import Testing
@testable import ZManager

/// The Integration Manager counts results and errors for the drain from a few bytes of each
/// published frame; these tests hold that shortcut to the definition on the parsed header.
@Suite("Integration Manager: what ends a flow")
struct IntegrationManagerOutcomeTests {
    /// The definition, on a full parse: an ERROR in `zmanager_error`, or `done` with empty
    /// source and context outside `completed_command`; any other header outside the core's own
    /// topics is a step for a service.
    static func reference(_ frame: [UInt8]) -> IntegrationManager.Outcome? {
        frame.withUnsafeBytes { bytes in
            guard let fields = try? WireHeader.parse(bytes) else { return nil }
            let text = { (field: HeaderFields.Field) in fields.string(field, in: bytes) }
            if text(.config) == Topics.errorConfig {
                guard text(.decorator) == Topics.errorDecorator else { return nil }
                return text(.action) == ErrorKind.draining.rawValue ? .refusal : .error(ErrorKind(rawValue: text(.action)))
            }
            if text(.action) == "done", fields.source.isEmpty, fields.context.isEmpty,
               text(.config) != Topics.completedCommandConfig { return .result }
            let own = [Topics.errorConfig, Topics.completedCommandConfig, Topics.controlConfig, Topics.asyncConfig]
            return own.contains(text(.config)) ? nil : .step
        }
    }

    static func outcome(_ text: String) -> IntegrationManager.Outcome? {
        Array(text.utf8).withUnsafeBytes { IntegrationManager.outcome(of: $0) }
    }

    @Test("results, errors, steps and everything else")
    func examples() {
        #expect(Self.outcome("Echo~~~~done~id-1~body") == .result)
        #expect(Self.outcome("Echo~~~~done~~") == .result)
        #expect(Self.outcome("Echo~PUBLISH~~~done~id~") == .result)  // any decorator, as before
        #expect(Self.outcome("zmanager_error~ERROR~Worker w~Echo~handler_failed~id~text") == .error(.handlerFailed))
        #expect(Self.outcome("zmanager_error~ERROR~Subject~Echo~no_workers~id~") == .error(.noWorkers))
        #expect(Self.outcome("zmanager_error~ERROR~Subject~Echo~from_the_future~id~") == .error(nil))
        #expect(Self.outcome("zmanager_error~ERROR~Subject~Echo~draining~id~") == .refusal)
        #expect(Self.outcome("zmanager_error~NOTICE~Subject~Echo~async_unknown~id~") == nil)
        #expect(Self.outcome("completed_command~~~~done~id~") == nil)
        #expect(Self.outcome("Echo~~Subject~Echo~Echo~id~") == .step)
        #expect(Self.outcome("Chain~PUBLISH~~Chain~Audit~id~body") == .step)
        #expect(Self.outcome("Echo~~x~~done~id~") == .step)
        #expect(Self.outcome("Echo~~~x~done~id~") == .step)
        #expect(Self.outcome("Echo~~~~donee~id~") == .step)
        #expect(Self.outcome("zmanager_control~PONG~~~~token~") == nil)
        #expect(Self.outcome("zmanager_async~PARKED~Subject~Async~Finish~id~body") == nil)
        #expect(Self.outcome("completed_command~~svc~Async~Finish~id~") == nil)
        #expect(Self.outcome("Echo~~~~done~id") == nil)      // no sixth `~`: not a header
        #expect(Self.outcome("Echo~~~~done~") == nil)
        #expect(Self.outcome("zmanager_error~ERROR~a~b~c") == nil)
        #expect(Self.outcome("") == nil)
        #expect(Self.outcome("~") == nil)
    }

    @Test("agrees with the full parse on 20,000 random frames built from header-like pieces")
    func agreesWithTheDefinition() {
        var rng = SplitMix64(seed: 0x2026_1202)
        let pieces = ["", "~", "~~", "~~~", "done", "Echo", "ERROR", "NOTICE", Topics.errorConfig, "draining", "no_workers",
                      Topics.completedCommandConfig, Topics.controlConfig, Topics.asyncConfig, "x", "don", "one~", "~done~", "~~~done~", "id-42", "PUBLISH"]
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<Int(rng.next() % 9) { text += pieces[Int(rng.next() % UInt64(pieces.count))] }
            let frame = Array(text.utf8)
            let fast = frame.withUnsafeBytes { IntegrationManager.outcome(of: $0) }
            #expect(fast == Self.reference(frame), "\(text)")
        }
    }
}

@Suite("Integration Manager: the result key memo")
struct ResultKeyMemoTests {
    @Test("classifies as the full classification does, in any order of results, near-results and other frames")
    func agreesWithTheFullClassification() {
        var rng = SplitMix64(seed: 0x2026_1203)
        // Results of a few flows (the memo's hits), frames that share a result's key but are
        // not results (no id terminator, nothing after the key), the core's own topics with a
        // result-like tail, and random header-like pieces.
        let keys = ["Echo~~~~done~", "Echo~PUBLISH~~~done~", "B~~~~done~", "zmanager_control~~~~done~",
                    "completed_command~~~~done~", "zmanager_error~ERROR~~~done~", "Echo~~~~donee~", "Echo~~x~~done~",
                    String(repeating: "L", count: 300) + "~~~~done~"]
        let tails = ["id-1~body", "~", "id", "", "id~", "a~b~c", "x"]
        let pieces = ["", "~", "~~", "~~~", "done", "Echo", "ERROR", Topics.errorConfig, "~~~done~", "id-42", "PUBLISH"]
        var memo = ResultKeyMemo()
        var results = 0
        for _ in 0..<20_000 {
            var text: String
            if rng.next() % 4 == 0 {
                text = ""
                for _ in 0..<Int(rng.next() % 9) { text += pieces[Int(rng.next() % UInt64(pieces.count))] }
            } else {
                text = keys[Int(rng.next() % UInt64(keys.count))] + tails[Int(rng.next() % UInt64(tails.count))]
            }
            let frame = Array(text.utf8)
            let full = frame.withUnsafeBytes { IntegrationManager.outcome(of: $0) }
            let memoised = frame.withUnsafeBytes { memo.outcome(of: $0) }
            #expect(memoised == full, "\(text)")
            if full == .result { results += 1 }
        }
        #expect(results > 3_000, "the sequence has results for the memo to remember")
    }
}

/// A small deterministic generator (SplitMix64), so a failure reproduces.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
