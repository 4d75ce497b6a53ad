public import ArgumentParser
import Foundation
import ZManagerHarness
import ZeroMQ

extension BareChain.Transport: ExpressibleByArgument {}

/// `zmanager bare`: throughput of a bare libzmq PUSH/PULL chain on each transport.
///
/// The calibration reference of every harness measurement, and a quick check that libzmq,
/// the allocator and the machine behave as expected.
struct BareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare",
        abstract: "Measure a bare libzmq PUSH→PULL chain (no ZManager logic) on each transport."
    )

    @Option(name: .shortAndLong, parsing: .upToNextOption, help: "Transports to measure.")
    var transport: [BareChain.Transport] = BareChain.Transport.allCases

    @Option(name: .shortAndLong, parsing: .upToNextOption, help: "Message sizes in bytes.")
    var size: [Int] = [64, 65536]

    @Option(help: "Socket hops between source and sink.")
    var hops: Int = 1

    @Option(help: "Messages per measurement at 64 B (scaled down for large messages).")
    var count: Int = 1_000_000

    @Option(help: "Measurements per point; the median is reported.")
    var repeats: Int = 3

    @Flag(help: "Send bodies through the zero-copy buffer pool (default: copy small, pool large).")
    var zeroCopy: Bool = false

    @Flag(help: "Always copy bodies, even large ones.")
    var copy: Bool = false

    func validate() throws {
        guard hops >= 1 else { throw ValidationError("--hops must be at least 1, got \(hops)") }
        guard count >= 10 else { throw ValidationError("--count must be at least 10, got \(count)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        guard !(zeroCopy && copy) else { throw ValidationError("--zero-copy and --copy exclude each other") }
        if let bad = size.first(where: { $0 < 0 }) { throw ValidationError("--size must not be negative, got \(bad)") }
    }

    func run() throws {
        print("libzmq \(Context.libzmqVersion), \(Allocator.name), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("bare chain, \(hops) hop(s), median of \(repeats)")
        print("transport      size  body        msg/s        MB/s")
        for transport in transport {
            for size in size {
                let pooled = zeroCopy || (!copy && size >= BufferPool.shared.zeroCopyThreshold)
                // Keep each measurement to roughly the same byte volume (≥ 20k messages).
                let scaled = max(20_000, min(count, count * 64 / max(size, 64)))
                let chain = BareChain(transport: transport, hops: hops, messageSize: size,
                                      messageCount: scaled, zeroCopy: pooled)
                var results: [BareChain.Result] = []
                for _ in 0..<repeats { results.append(try chain.run()) }
                results.sort { $0.messagesPerSecond < $1.messagesPerSecond }
                let median = results[results.count / 2]
                let line = [
                    transport.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                    String(size).leftPadded(to: 9),
                    (pooled ? "pooled" : "copied").leftPadded(to: 7),
                    String(format: "%12.0f", median.messagesPerSecond),
                    String(format: "%11.1f", median.megabytesPerSecond),
                ].joined(separator: " ")
                print(line)
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
