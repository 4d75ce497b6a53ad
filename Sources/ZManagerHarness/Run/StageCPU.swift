import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU per message per pipeline stage, from the kernel's per-thread accounting.
///
/// Every thread of the harness and of the pipeline is named (``SocketThread`` names its
/// threads, libzmq's background threads carry their context's `ZMQ_THREAD_NAME_PREFIX`), so a
/// snapshot of `/proc/<pid>/task/*` before and after the measure phase tells how much CPU
/// each stage spent. `schedstat` gives nanoseconds; `stat` (10 ms ticks) is the fallback.
enum StageCPU {
    /// Stages in data-flow order; what the report lists.
    static let order = ["generator", "generator-io", "subject", "worker", "integration-manager", "pipeline-io", "other"]

    /// Context name prefixes (`<prefix>/ZMQbg/…`): the pipeline's and the generator's.
    static let pipelineContextPrefix = 1
    static let generatorContextPrefix = 2
    /// The context a coordinator talks to its load agents on (idle while they measure).
    static let controlContextPrefix = 3

    /// A process of the pipeline and the stage its threads count as.
    struct Child: Sendable {
        var pid: pid_t
        var stage: String
    }

    /// One thread's CPU so far.
    struct ThreadSample: Equatable {
        var pid: pid_t
        var tid: Int
        var name: String
        var nanoseconds: UInt64
    }

    /// Which stage a thread of this process belongs to, by its name.
    static func stage(ofThreadNamed name: String) -> String {
        if name.hasPrefix("gen-") { return "generator" }
        // libzmq 4.3 names its threads `<prefix>/ZMQbg/IO/0`, or `ZMQbg/IO/0` without a prefix.
        if name.hasPrefix("\(generatorContextPrefix)/ZMQbg/") { return "generator-io" }
        if name.hasPrefix("\(controlContextPrefix)/ZMQbg/") { return "other" }
        if name.contains("ZMQbg/") { return "pipeline-io" }
        if name.hasPrefix("zm-subject") || name.hasPrefix("bare-subject") || name.hasPrefix("zm-completed") { return "subject" }
        if name.hasPrefix("zm-w") || name.hasPrefix("bare-w") { return "worker" }
        if name.hasPrefix("zm-im") || name.hasPrefix("bare-im") { return "integration-manager" }
        return "other"
    }

    /// Every thread of `pid` now.
    static func threads(of pid: pid_t) -> [ThreadSample] {
        let directory = "/proc/\(pid)/task"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var samples: [ThreadSample] = []
        for entry in entries {
            guard let tid = Int(entry) else { continue }
            let base = "\(directory)/\(entry)"
            let name = read("\(base)/comm").trimmingCharacters(in: .newlines)
            var nanoseconds: UInt64?
            if let first = read("\(base)/schedstat").split(separator: " ").first { nanoseconds = UInt64(first) }
            if nanoseconds == nil { nanoseconds = ticksFromStat(read("\(base)/stat")) }
            guard let nanoseconds else { continue }
            samples.append(ThreadSample(pid: pid, tid: tid, name: name, nanoseconds: nanoseconds))
        }
        return samples
    }

    /// utime + stime of a `stat` line, in nanoseconds.
    static func ticksFromStat(_ stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is index 0, utime index 11, stime index 12.
        guard fields.count > 12, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]) else { return nil }
        return (utime + stime) * 1_000_000_000 / UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
    }

    private static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// A snapshot of this process (threads classified by name) and of the pipeline's child
    /// processes (every thread counts as the child's stage; its libzmq threads as `pipeline-io`).
    struct Snapshot {
        var threads: [ThreadSample]
        var stageOfChild: [pid_t: String]

        static func take(children: [Child]) -> Snapshot {
            var all = StageCPU.threads(of: getpid())
            var stages: [pid_t: String] = [:]
            for child in children {
                all += StageCPU.threads(of: child.pid)
                stages[child.pid] = child.stage
            }
            return Snapshot(threads: all, stageOfChild: stages)
        }

        func stage(of sample: ThreadSample) -> String {
            guard let childStage = stageOfChild[sample.pid] else { return StageCPU.stage(ofThreadNamed: sample.name) }
            return sample.name.contains("ZMQbg/") ? "pipeline-io" : childStage
        }
    }

    /// CPU spent per stage between two snapshots, per message. Threads that ended between
    /// the snapshots are lost to it (none do during a measure phase); threads that started
    /// count from zero.
    static func perMessage(from start: Snapshot, to end: Snapshot, messages: Int) -> [StageCPUUsage] {
        var before: [String: UInt64] = [:]
        for sample in start.threads { before["\(sample.pid)/\(sample.tid)"] = sample.nanoseconds }
        var total: [String: (UInt64, Int)] = [:]
        for sample in end.threads {
            let spent = sample.nanoseconds &- min(before["\(sample.pid)/\(sample.tid)"] ?? 0, sample.nanoseconds)
            let stage = end.stage(of: sample)
            total[stage, default: (0, 0)].0 += spent
            total[stage, default: (0, 0)].1 += 1
        }
        let divisor = Double(max(messages, 1))
        return order.compactMap { stage in
            guard let (ns, threads) = total[stage] else { return nil }
            return StageCPUUsage(stage: stage, cpuMicrosecondsPerMessage: Double(ns) / 1000 / divisor, threads: threads)
        }
    }
}

/// Resident memory of a process: the current size and the high-water mark since the last
/// reset (``resetPeak(pid:)``), so each measurement gets its own peak.
enum ProcessMemory {
    static func status(_ key: String, pid: pid_t) -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(key) {
            return (line.split(separator: " ").compactMap { UInt64($0) }.first ?? 0) * 1024
        }
        return 0
    }

    static func peakRSS(pid: pid_t) -> UInt64 { status("VmHWM:", pid: pid) }
    static func currentRSS(pid: pid_t) -> UInt64 { status("VmRSS:", pid: pid) }

    /// Resets the peak RSS of this process to its current RSS (`clear_refs` 5, Linux ≥ 4.0).
    /// Returns false where the kernel refuses; the peak then spans the process's life.
    @discardableResult
    static func resetPeak() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }
}
