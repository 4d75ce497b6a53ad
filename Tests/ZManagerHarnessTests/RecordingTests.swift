import Testing
@testable import ZManagerHarness

@Suite("Loss, duplicate and reorder accounting; histograms")
struct RecordingTests {
    @Test func sequenceTrackerCountsLostDuplicatedAndReordered() {
        var tracker = SequenceTracker(first: 100)
        for seq: UInt64 in [100, 101, 103, 102, 102, 105, 104, 104, 200] { _ = tracker.record(seq) }
        #expect(tracker.unique == 7)
        #expect(tracker.duplicated == 2)
        #expect(tracker.reordered == 2)  // 102 after 103, 104 after 105 (repeats count as duplicates)
        #expect(tracker.lost(sent: 10) == 3)
        #expect(tracker.lost(sent: 5) == 0)
    }

    @Test func recordersMergeAndKeepCorrectedAndUncorrectedApart() {
        var a = LatencyRecorder()
        var b = LatencyRecorder()
        for i in 0..<1000 { a.record(intended: 0, sent: 0, received: UInt64(1_000 + i)) }
        // b's messages were sent 1 ms late: corrected sees it, uncorrected does not.
        for _ in 0..<1000 { b.record(intended: 0, sent: 1_000_000, received: 1_002_000) }
        a.merge(b)
        #expect(a.corrected.totalCount == 2000)
        #expect(a.uncorrected.totalCount == 2000)
        #expect(a.corrected.valueAtPercentile(99) >= 1_000_000)
        #expect(a.uncorrected.valueAtPercentile(99) <= 2_100)
    }

    @Test func payloadSizesFollowTheDistributionAndHoldTheHeader() {
        var fixed = PayloadSizes(.fixed(8))
        #expect(fixed.next() == PayloadSizes.minimum)
        var uniform = PayloadSizes(.uniform(min: 100, max: 200))
        let sizes = (0..<1000).map { _ in uniform.next() }
        #expect(sizes.allSatisfy { (100...200).contains($0) })
        #expect(Set(sizes).count > 50)
        var choice = PayloadSizes(.choice(sizes: [64, 4096], weights: [3, 1]))
        let picks = (0..<4000).map { _ in choice.next() }
        let large = picks.filter { $0 == 4096 }.count
        #expect(large > 800 && large < 1200, "about a quarter: \(large)")
    }
}
