import Foundation
import Histogram

/// An HdrHistogram interval log (`.hlog`, log format 1.3): one compressed histogram per
/// interval, readable by HdrHistogram's own tools (`HistogramLogReader` in Java, C and Python,
/// `HistogramLogAnalyzer`), so a run's latency over time can be re-analysed elsewhere.
///
/// Each interval's histogram is written in HdrHistogram's V2 encoding: a 40-byte header, then
/// the counts as ZigZag LEB128 varints with runs of empty buckets as one negative count, the
/// whole deflate-compressed behind the compressed-encoding cookie and in Base64. The deflate
/// stream uses stored blocks: every inflater reads them, and the harness needs no zlib.
enum IntervalLog {
    /// The `.hlog` text for `intervals`, starting at `startTime` (seconds since the epoch).
    /// Values are nanoseconds; `Interval_Max` is written in milliseconds, HdrHistogram's
    /// default ratio of 10^6 for nanosecond values.
    static func text(intervals: [(startSeconds: Double, seconds: Double, histogram: Histogram<UInt64>)],
                     startTime: Double, comment: String) -> String {
        var lines = [
            "#\(comment)",
            "#[Histogram log format version 1.3]",
            String(format: "#[StartTime: %.3f (seconds since epoch), %@]", startTime,
                   ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: startTime)) as NSString),
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"",
        ]
        for interval in intervals {
            let max = interval.histogram.totalCount > 0 ? Double(interval.histogram.max) / 1e6 : 0
            lines.append(String(format: "%.3f,%.3f,%.3f,", interval.startSeconds, interval.seconds, max)
                         + compressed(interval.histogram).base64EncodedString())
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let encodingCookie: UInt32 = 0x1c84_9303 | 0x10
    static let compressedEncodingCookie: UInt32 = 0x1c84_9304 | 0x10

    /// The V2 compressed encoding: cookie, length, then the zlib stream of ``encoded(_:)``.
    static func compressed(_ histogram: Histogram<UInt64>) -> Data {
        let zlib = Self.zlibStored(encoded(histogram))
        var out: [UInt8] = []
        out.appendBigEndian(compressedEncodingCookie)
        out.appendBigEndian(UInt32(zlib.count))
        return Data(out + zlib)
    }

    /// The V2 encoding: cookie, payload length, normalizing index offset (0), significant
    /// digits, lowest discernible and highest trackable value, the integer-to-double ratio
    /// (1.0), then the counts from index 0 to the maximum's.
    static func encoded(_ histogram: Histogram<UInt64>) -> [UInt8] {
        let layout = Layout(histogram)
        var payload: [UInt8] = []
        var next = 0
        // The recorded values come in ascending order, so their indexes do too.
        for value in histogram.recordedValues() where value.count > 0 {
            let index = layout.index(of: value.value)
            let zeros = index - next
            if zeros == 1 { appendZigZag(0, to: &payload) } else if zeros > 1 { appendZigZag(-Int64(zeros), to: &payload) }
            appendZigZag(Int64(value.count), to: &payload)
            next = index + 1
        }
        var out: [UInt8] = []
        out.appendBigEndian(encodingCookie)
        out.appendBigEndian(UInt32(payload.count))
        out.appendBigEndian(UInt32(0))
        out.appendBigEndian(UInt32(histogram.numberOfSignificantValueDigits.rawValue))
        out.appendBigEndian(histogram.lowestDiscernibleValue)
        out.appendBigEndian(histogram.highestTrackableValue)
        out.appendBigEndian((1.0 as Double).bitPattern)
        return out + payload
    }

    /// ZigZag, then LEB128 with at most nine bytes, the ninth carrying eight bits (as
    /// HdrHistogram's `ZigZagEncoding.putLong`).
    static func appendZigZag(_ value: Int64, to out: inout [UInt8]) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        for _ in 0..<8 {
            if v < 0x80 {
                out.append(UInt8(v))
                return
            }
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: v))
    }

    /// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4) with its Adler-32.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let final = offset + length == data.count
            out.append(final ? 1 : 0)
            out.append(UInt8(length & 0xff))
            out.append(UInt8(length >> 8))
            out.append(UInt8(~length & 0xff))
            out.append(UInt8((~length >> 8) & 0xff))
            out.append(contentsOf: data[offset..<offset + length])
            offset += length
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        out.appendBigEndian((b << 16) | a)
        return out
    }

    /// HdrHistogram's bucket layout: where a value's count sits in the counts array.
    struct Layout {
        let unitMagnitude: Int
        let subBucketHalfCountMagnitude: Int
        let subBucketHalfCount: Int
        let subBucketMask: UInt64
        let leadingZeroCountBase: Int

        init(_ histogram: Histogram<UInt64>) {
            unitMagnitude = Int(Double.log2(Double(histogram.lowestDiscernibleValue)).rounded(.down))
            let largestSingleUnit = 2 * UInt64(pow(10, Double(histogram.numberOfSignificantValueDigits.rawValue)))
            let subBucketCountMagnitude = Int(Double.log2(Double(largestSingleUnit)).rounded(.up))
            subBucketHalfCountMagnitude = max(subBucketCountMagnitude, 1) - 1
            let subBucketCount = 1 << (subBucketHalfCountMagnitude + 1)
            subBucketHalfCount = subBucketCount / 2
            subBucketMask = UInt64(subBucketCount - 1) << UInt64(unitMagnitude)
            leadingZeroCountBase = 64 - unitMagnitude - (subBucketHalfCountMagnitude + 1)
        }

        func index(of value: UInt64) -> Int {
            let bucket = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
            let subBucket = Int(value >> UInt64(bucket + unitMagnitude))
            return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
