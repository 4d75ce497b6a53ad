import Foundation
import Histogram
import Testing
@testable import ZManagerHarness

/// The interval series: the recorder's per-interval histograms, what they add up to, and
/// their `.hlog` encoding (decoded by HdrHistogram's reference decoder in Tests/Interop).
@Suite("Interval series and .hlog")
struct IntervalSeriesTests {
    static let second: UInt64 = 1_000_000_000

    @Test func answersFallIntoTheIntervalTheyWereReceivedInAndAddUpToTheTotal() {
        var recorder = LatencyRecorder()
        let start: UInt64 = 50 * Self.second
        recorder.startIntervals(at: start, length: Self.second, wallClock: 1_800_000_000)
        // Interval 0: three answers and an error; interval 1: nothing (a stall); interval 2: two.
        for offset: UInt64 in [10, 500_000_000, 999_999_999] {
            recorder.record(intended: start + offset - 1_000, sent: start + offset - 900, received: start + offset)
        }
        recorder.countError(received: start + 600_000_000)
        recorder.record(intended: start + 2 * Self.second, sent: start + 2 * Self.second, received: start + 2 * Self.second + 5_000_000)
        recorder.record(intended: start + 2 * Self.second, sent: start + 2 * Self.second, received: start + 2 * Self.second + 7_000_000)
        recorder.countError(received: start + 2 * Self.second + 8_000_000)
        recorder.finishIntervals(lastReceive: start + 2 * Self.second + 8_000_000)
        #expect(recorder.intervals.map(\.totalCount) == [3, 0, 2])
        #expect(recorder.intervalErrors == [1, 0, 1])
        #expect(recorder.corrected.totalCount == 5 && recorder.uncorrected.totalCount == 5)
        #expect(recorder.intervals[2].max >= 7_000_000 && recorder.corrected.max == recorder.intervals[2].max)
        let spans = IntervalSample.spans(recorder)
        #expect(spans.map(\.start) == [0, 1, 2])
        #expect(spans[0].seconds == 1 && spans[1].seconds == 1 && abs(spans[2].seconds - 0.008) < 1e-9)
    }

    @Test func withoutASeriesNothingChanges() {
        var recorder = LatencyRecorder()
        recorder.record(sent: 100, received: 400)
        recorder.finishIntervals(lastReceive: 400)
        recorder.finishClosedLoop()
        #expect(recorder.intervals.isEmpty && recorder.corrected.totalCount == 1 && recorder.uncorrected.totalCount == 1)
    }

    @Test func unseenCountsTheGapsOfARange() {
        var tracker = SequenceTracker(first: 1000)
        for seq in UInt64(1000)..<1200 where seq % 3 != 0 { _ = tracker.record(seq) }
        let missing = (UInt64(1000)..<1200).filter { $0 % 3 == 0 }
        #expect(tracker.unseen(in: 1000..<1200) == missing.count)
        #expect(tracker.unseen(in: 1063..<1130) == missing.filter { (1063..<1130).contains($0) }.count)
        #expect(tracker.unseen(in: 1150..<1400) == missing.filter { $0 >= 1150 }.count + 200)  // past the last seen
        #expect(tracker.unseen(in: 1100..<1100) == 0)
    }

    @Test func zigZagLEB128AsHdrHistogramWritesIt() {
        func bytes(_ value: Int64) -> [UInt8] {
            var out: [UInt8] = []
            IntervalLog.appendZigZag(value, to: &out)
            return out
        }
        #expect(bytes(0) == [0x00] && bytes(-1) == [0x01] && bytes(1) == [0x02] && bytes(-2) == [0x03])
        #expect(bytes(64) == [0x80, 0x01] && bytes(-1000) == [0xcf, 0x0f])
        #expect(bytes(Int64.max).count == 9 && bytes(Int64.min) == Array(repeating: 0xff, count: 9))
    }

    @Test func theZlibStreamIsStoredBlocksWithItsAdler32() {
        let data = Array("Wikipedia".utf8)
        let stream = IntervalLog.zlibStored(data)
        #expect(Array(stream.prefix(2)) == [0x78, 0x01])
        #expect(Array(stream[2..<7]) == [0x01, 9, 0, 0xf6, 0xff])  // final stored block, LEN 9, NLEN
        #expect(Array(stream[7..<16]) == data)
        #expect(Array(stream.suffix(4)) == [0x11, 0xe6, 0x03, 0x98])  // Adler-32 of "Wikipedia"
        // Over 64 KiB: several blocks, only the last final.
        let big = IntervalLog.zlibStored([UInt8](repeating: 7, count: 70_000))
        #expect(big[2] == 0 && big.count == 2 + 5 + 65_535 + 5 + (70_000 - 65_535) + 4)
        #expect(big[2 + 5 + 65_535] == 1)
    }

    @Test func theV2EncodingCountsEveryBucketInIndexOrder() {
        var histogram = LatencyRecorder.makeHistogram()
        for value: UInt64 in [1, 1, 2, 1000, 2047, 2048, 5_000_000, 5_000_000] { _ = histogram.record(value) }
        let encoded = IntervalLog.encoded(histogram)
        #expect(Array(encoded.prefix(4)) == [0x1c, 0x84, 0x93, 0x13])
        let payloadLength = encoded[4..<8].reduce(0) { $0 << 8 | Int($1) }
        #expect(encoded.count == 40 + payloadLength)
        // Decode the payload back: counts by index, negative runs of zeros.
        var counts: [Int: Int64] = [:]
        var index = 0, offset = 40
        while offset < encoded.count {
            var shift: UInt64 = 0, raw: UInt64 = 0
            while true {
                let byte = encoded[offset]
                offset += 1
                raw |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            let value = Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
            if value < 0 { index += Int(-value) } else { counts[index] = value; index += 1 }
        }
        let layout = IntervalLog.Layout(histogram)
        #expect(layout.index(of: 1) == 1 && layout.index(of: 2047) == 2047 && layout.index(of: 2048) == 2048)
        #expect(counts.filter { $0.value > 0 } == [1: 2, 2: 1, 1000: 1, 2047: 1, 2048: 1, layout.index(of: 5_000_000): 2])
        #expect(counts.values.reduce(0, +) == Int64(histogram.totalCount))
    }

    @Test func theLogHasTheHeaderAndOneLinePerInterval() {
        var a = LatencyRecorder.makeHistogram(), b = LatencyRecorder.makeHistogram()
        _ = a.record(2_500_000)
        _ = b.record(100)
        let text = IntervalLog.text(intervals: [(0, 1, a), (1, 0.25, b)], startTime: 1_800_000_000.5, comment: "test")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "#test" && lines[1] == "#[Histogram log format version 1.3]")
        #expect(lines[2].hasPrefix("#[StartTime: 1800000000.500 (seconds since epoch), 2027-01-15T08:00:00Z]"))
        #expect(lines[3] == "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")
        #expect(lines[4].hasPrefix("0.000,1.000,2.501,HISTFAAA") && lines[5].hasPrefix("1.000,0.250,0.000,HISTFAAA"))
        #expect(lines.count == 6)
    }
}
