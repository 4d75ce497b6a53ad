import Foundation
import Histogram
import Testing
import ZeroMQ
@testable import ZManagerHarness

/// Load from several hosts: the shares, the exact merge, the scenario's `agents:` key, and
/// two agents on this host's loopback driving a real pipeline (the namespaced hosts are in
/// `Tests/ZManagerTests/Serve/AgentNamespaceTests.swift`).
@Suite("Load agents")
struct AgentTests {
    @Test func sharesAddUpToThePoint() {
        var point = PointSpec()
        point.load = .closed(inFlight: 101)
        point.measureMessages = 1_000
        point.measureDuration = nil
        let closed = (0..<3).map { point.share($0, of: 3) }
        #expect(closed.map { if case .closed(let n) = $0.load { n } else { -1 } } == [34, 34, 33])
        #expect(closed.compactMap(\.measureMessages) == [334, 333, 333])
        point.load = .open(rate: 9_000)
        #expect((0..<3).allSatisfy { point.share($0, of: 3).load == .open(rate: 3_000) })
        point.load = .ramp(from: 100, to: 1_000)
        #expect(point.share(1, of: 2).load == .ramp(from: 50, to: 500))
    }

    @Test func aHistogramTravelsBucketForBucket() throws {
        var histogram = LatencyRecorder.makeHistogram()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<50_000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            _ = histogram.record(1 + state % 50_000_000)
        }
        let counts = HistogramCounts(histogram)
        let decoded = try JSONDecoder().decode(HistogramCounts.self, from: JSONEncoder().encode(counts))
        let rebuilt = try decoded.histogram()
        #expect(rebuilt == histogram)
        #expect(rebuilt.totalCount == 50_000 && rebuilt.max == histogram.max && rebuilt.min == histogram.min)
        #expect(counts.values.count < 10_000, "only the non-empty buckets travel")
        var broken = counts
        broken.counts.removeLast()
        #expect(throws: HarnessError.self) { try broken.histogram() }
    }

    /// Two recorders that each saw half the answers merge into what one recorder that saw
    /// them all holds: the totals and every interval (by number, each from its own start).
    @Test func agentsMergeToWhatOneGeneratorRecords() throws {
        let length: UInt64 = 1_000_000
        var one = LatencyRecorder()
        var halves = [LatencyRecorder(), LatencyRecorder()]
        let base: UInt64 = 1_000_000_000
        one.startIntervals(at: base, length: length, wallClock: 100)
        // The agents' clocks disagree by far more than a measurement lasts.
        let origins: [UInt64] = [5_000_000_000, 77_000_000_000]
        for (index, origin) in origins.enumerated() {
            halves[index].startIntervals(at: origin, length: length, wallClock: 100 + Double(index))
        }
        for message in 0..<4_000 {
            let offset = UInt64(message) * 900 + 500  // 3.6 intervals
            let received = base + offset
            let latency = UInt64(1_000 + (message * 7919) % 400_000)
            one.record(intended: received - latency, sent: received - latency / 2, received: received)
            let agent = message % 2
            let local = origins[agent] + offset
            halves[agent].record(intended: local - latency, sent: local - latency / 2, received: local)
            if message % 500 == 0 {
                one.countError(received: received)
                halves[agent].countError(received: local)
            }
        }
        one.finishIntervals(lastReceive: base + 3_999 * 900 + 500)
        for (index, origin) in origins.enumerated() { halves[index].finishIntervals(lastReceive: origin + (3_998 + UInt64(index)) * 900 + 500) }

        // Through the wire form, as the coordinator gets them.
        var merged = try RecorderCounts(halves[0]).recorder()
        merged.merge(try RecorderCounts(halves[1]).recorder())
        #expect(merged.corrected == one.corrected)
        #expect(merged.uncorrected == one.uncorrected)
        #expect(merged.intervals == one.intervals)
        #expect(merged.intervalErrors == one.intervalErrors)
        #expect(IntervalSample.spans(merged).map(\.seconds) == IntervalSample.spans(one).map(\.seconds))
        #expect(merged.wallClockStart == 100)
    }

    @Test func agentReportsAddUpIntoOneMeasurement() throws {
        func report(received: Int, lost: Int, rate: Double, values: [UInt64]) throws -> AgentReport {
            var recorder = LatencyRecorder()
            recorder.startIntervals(at: 0, length: 1_000_000_000, wallClock: 0)
            for (index, value) in values.enumerated() { recorder.record(intended: 0, sent: 0, received: value + UInt64(index)) }
            recorder.finishIntervals(lastReceive: 1_500_000_000)
            let summary = LatencySummary(recorder.corrected)
            var measurement = Measurement(sent: received + lost, received: received, lost: lost, duplicated: 0, reordered: 0, errors: 0,
                                          elapsedSeconds: 1.5, messagesPerSecond: rate, megabytesPerSecond: 1, targetRateReached: true,
                                          achievedSendRate: rate, latency: summary, uncorrectedLatency: summary,
                                          cpuMicrosecondsPerMessage: 0, peakRSSBytes: 0, workerProcessesPeakRSSBytes: nil)
            measurement.stages = [StageCPUUsage(stage: "generator", cpuMicrosecondsPerMessage: Double(received) / 100, threads: 2)]
            measurement.intervals = [IntervalSample(startSeconds: 0, seconds: 1, sent: received + lost, received: received,
                                                    p50Nanoseconds: 0, p90Nanoseconds: 0, p99Nanoseconds: 0, maxNanoseconds: 0,
                                                    errors: 0, unanswered: lost)]
            return AgentReport(measurement: measurement, recorder: RecorderCounts(recorder), sendDelay: nil)
        }
        let a = try report(received: 3, lost: 1, rate: 300, values: [1_000, 2_000, 3_000])
        let b = try report(received: 1, lost: 0, rate: 100, values: [9_000_000])
        let pipeline = [StageCPUUsage(stage: "subject", cpuMicrosecondsPerMessage: 2, threads: 1),
                        StageCPUUsage(stage: "worker", cpuMicrosecondsPerMessage: 3, threads: 2)]
        let (merged, recorder) = try AgentCoordinator.merge([a, b], agents: ["tcp://a:1", "tcp://b:1"], pipelineStages: pipeline, childRSS: nil)
        #expect(merged.sent == 5 && merged.received == 4 && merged.lost == 1)
        #expect(merged.messagesPerSecond == 400 && merged.achievedSendRate == 400 && merged.targetRateReached == true)
        #expect(merged.latency.count == 4 && merged.latency.max >= 9_000_000)
        #expect(recorder.corrected.totalCount == 4)
        #expect(merged.cpuMicrosecondsPerMessage == 5)
        // Generator CPU per message weighted by answers: 0.03 × 3/4 + 0.01 × 1/4.
        #expect(abs((merged.generatorCPUMicrosecondsPerMessage ?? 0) - 0.025) < 1e-9)
        #expect(merged.stages?.map(\.stage) == ["generator", "subject", "worker"])
        #expect(merged.intervals?.map(\.received) == [4] && merged.intervals?.map(\.unanswered) == [1])
        #expect(merged.agents?.map(\.agent) == ["tcp://a:1", "tcp://b:1"])
        #expect(merged.agents?.map(\.measurement.received) == [3, 1])
    }

    @Test func endpointsAreReachedAtTheAgentsAddress() throws {
        #expect(try AgentJob.endpoint("tcp://0.0.0.0:41234", at: "10.0.0.1") == "tcp://10.0.0.1:41234")
        #expect(try AgentJob.endpoint("tcp://0.0.0.0:41234", at: "fe80::1") == "tcp://[fe80::1]:41234")
        #expect(throws: HarnessError.self) { try AgentJob.endpoint("ipc:///tmp/x", at: "10.0.0.1") }
    }

    @Test func theAgentsKeyIsCheckedWithFileAndLine() throws {
        func refusal(_ text: String) -> String {
            do {
                _ = try ScenarioFile.parse(text, file: "agents.yaml")
                return "accepted"
            } catch {
                return error.description
            }
        }
        let scenario = try ScenarioFile.parse("""
            agents: [tcp://10.0.0.2:5600, {control: "tcp://10.0.0.3:5600", connect: 10.0.0.1}]
            load: {model: closed, in_flight: 10}
            """, file: "agents.yaml")
        #expect(scenario.agents == [AgentEndpoint(control: "tcp://10.0.0.2:5600"),
                                    AgentEndpoint(control: "tcp://10.0.0.3:5600", connect: "10.0.0.1")])
        #expect(!scenario.generatorCeiling, "no local generator to measure")
        #expect(ScenarioPlan(scenario).text.contains("load from 2 agents, each 1/2 of every point: tcp://10.0.0.2:5600, tcp://10.0.0.3:5600 (reaching this host at 10.0.0.1)"))

        #expect(try ScenarioFile.parse("agents: tcp://10.0.0.2:5600\n", file: "one.yaml").agents.count == 1, "one agent needs no list")
        #expect(refusal("agents: {control: 5}\n").contains("agents.yaml:1: agents"))
        #expect(refusal("agents: []\n").contains("found an empty list"))
        #expect(refusal("agents: [\"10.0.0.2:5600\"]\n").contains("agents.yaml:1: agents[0]: expected an agent's control endpoint"))
        #expect(refusal("agents: [\"tcp://*:5600\"]\n").contains("no wildcard"))
        #expect(refusal("agents: [tcp://a:1, tcp://a:1]\n").contains("agents[1]: agent tcp://a:1 is listed twice"))
        #expect(refusal("agents:\n  - {connect: 10.0.0.1}\n").contains("agents.yaml:2: agents[0]: an agent mapping needs control"))
        #expect(refusal("agents:\n  - {control: \"tcp://a:1\", host: x}\n").contains("agents[0]"))
        #expect(refusal("agents: [tcp://a:1]\ntopology: {transport: ipc}\n")
            .contains("agents.yaml:2: topology.transport: agents reach the pipeline over the network: every point's transport must be tcp"))
        #expect(refusal("agents: [tcp://a:1]\nmatrix: {topology.transport: [tcp, inproc]}\n").contains("found inproc"))
        #expect(refusal("agents: [tcp://a:1]\ntopology: {security: curve}\n").contains("topology.security: agents hold no CURVE client keys"))
        #expect(refusal("agents: [tcp://a:1, tcp://b:1, tcp://c:1]\nload: {in_flight: 2}\n")
            .contains("load.in_flight: 3 agents share the closed loop's messages in flight: expected at least 3, found 2"))
        #expect(refusal("agents: [tcp://a:1, tcp://b:1]\nphases: {messages: 1}\n").contains("phases.messages: 2 agents share the measured messages"))
        #expect(refusal("agents: [tcp://a:1]\ncalibration: {reference: true}\n").contains("calibration.reference: the C reference program"))
        #expect(refusal("agents: [tcp://a:1]\ncalibration: {generator: true}\n").contains("calibration.generator: the generator's ceiling"))
    }

    /// Two agents on this host's loopback, each its own context and threads as on another
    /// host, drive both pipelines: nothing is lost, nobody counts another's answers, and the
    /// merged figures add up to what the agents measured.
    @Test(arguments: ["echo", "async"])
    func twoAgentsDriveThePipelineAndTheirFiguresAddUp(flow: String) throws {
        var endpoints: [String] = [], stoppers: [LoadAgent.Stopper] = [], threads: [SocketThread] = []
        for _ in 0..<2 {
            let agent = try LoadAgent(listen: "tcp://127.0.0.1:*")
            endpoints.append(agent.endpoint)
            stoppers.append(agent.stopper)
            threads.append(SocketThread.start(name: "test-agent") { try? agent.serve() })
        }
        defer {
            for stopper in stoppers { stopper.stop() }
            for thread in threads { thread.join() }
        }
        let scenario = try ScenarioFile.parse("""
            agents: [\(endpoints.joined(separator: ", "))]
            topology: {transport: tcp, workers: 2}
            workload: {flow: \(flow)}
            load: {model: closed, in_flight: 20}
            phases: {warmup: 100ms, messages: 3001, drain: 5s, interval: 100ms}
            """, file: "agents-\(flow).yaml")
        let output = try ScenarioRunner(scenario: scenario).run()
        #expect(output.result.agents == endpoints)
        let point = try #require(output.result.points.first)
        let measurements = [point.zmanager] + (point.bare.map { [$0] } ?? [])
        #expect(measurements.count == (flow == "echo" ? 2 : 1), "bare calibration for echo only")
        for m in measurements {
            #expect(m.sent == 3001 && m.received == 3001, "the shares (1501 + 1500) are all answered")
            #expect(m.lost == 0 && m.duplicated == 0 && m.errors == 0)
            let parts = try #require(m.agents)
            #expect(parts.map(\.agent) == endpoints)
            #expect(parts.map(\.measurement.sent) == [1501, 1500])
            #expect(parts.map(\.measurement.received).reduce(0, +) == m.received)
            #expect(parts.allSatisfy { $0.measurement.duplicated == 0 && $0.measurement.errors == 0 })
            #expect(m.latency.count == UInt64(m.received))
            #expect(abs(m.messagesPerSecond - parts.map(\.measurement.messagesPerSecond).reduce(0, +)) < 1e-6)
            #expect(m.latency.max == parts.map(\.measurement.latency.max).max())
            let intervals = try #require(m.intervals)
            #expect(intervals.map(\.received).reduce(0, +) == m.received)
            #expect(intervals.map(\.sent).reduce(0, +) == m.sent)
        }
        #expect(point.generator == nil, "no local generator ceiling with agents")
        #expect(output.histograms.contains { $0.name == "p000-zmanager.hlog" })

        // The reports show each agent and the total, and say where the load came from.
        let markdown = MarkdownReport(output.result).render()
        #expect(markdown.contains("### Load agents") || markdown.contains("## Load agents"))
        for endpoint in endpoints { #expect(markdown.contains("| default | ZManager | \(endpoint) |")) }
        #expect(markdown.contains("| default | ZManager | total | "))
        #expect(markdown.contains("The load came from 2 agents"))
        let html = HTMLReport(output.result).render()
        #expect(html.contains("<table class=\"agents\">") && html.contains(endpoints[1]))
    }

    @Test func anUnreachableAgentIsNamedInTheError() throws {
        // A port nobody listens on: the prepare goes unanswered.
        let scenario = try ScenarioFile.parse("""
            agents: [tcp://127.0.0.1:9]
            load: {model: closed, in_flight: 2}
            phases: {warmup: 10ms, measure: 50ms}
            calibrate: false
            """, file: "agents-unreachable.yaml")
        var runner = ScenarioRunner(scenario: scenario)
        runner.agentPrepareTimeout = .milliseconds(300)
        #expect {
            try runner.run()
        } throws: { error in
            "\(error)".contains("tcp://127.0.0.1:9: no answer within") && "\(error)".contains("zmanager agent --listen")
        }
    }
}
