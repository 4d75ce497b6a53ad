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

    @Test func theBenchmarkedRecorderDoesWhatTheGeneratorDoes() {
        for openLoop in [false, true] {
            var recorder = AnswerRecorder(first: 10, openLoop: openLoop)
            let first = recorder.record(seq: 10, intended: 100, sent: 150, received: 1_100)
            let second = recorder.record(seq: 12, intended: 200, sent: 200, received: 2_200)
            let duplicate = recorder.record(seq: 12, intended: 200, sent: 200, received: 2_300)
            #expect(first && second)
            #expect(!duplicate, "a duplicate is refused")
            #expect(recorder.recorded == 2)
            let corrected = recorder.recorder.corrected
            #expect(corrected.totalCount == 2)
            // Open loop measures from the intended time (1 000 ns for the late send), closed
            // loop from the actual send (950 ns); both record 2 000 ns for the second answer.
            #expect(corrected.valueAtPercentile(0) == (openLoop ? 1_000 : 950))
            #expect(corrected.valueAtPercentile(100) == 2_000)
            #expect(recorder.recorder.uncorrected.totalCount == (openLoop ? 2 : 0))
        }
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
