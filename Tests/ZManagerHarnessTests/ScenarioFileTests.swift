import Foundation
import Testing
@testable import ZManagerHarness

@Suite("Scenario files")
struct ScenarioFileTests {
    @Test func theShippedScenariosParse() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scenarios")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.contains("default.yaml") && files.contains("transports.yaml") && files.contains("ci.yaml")
                && files.contains("latency.yaml") && files.contains("async.yaml"))
        for file in files {
            let scenario = try ScenarioFile.load(path: directory.appendingPathComponent(file).path)
            #expect(!scenario.points.isEmpty, "\(file)")
            #expect(scenario.hash.count == 64)
        }
        let transports = try ScenarioFile.load(path: directory.appendingPathComponent("transports.yaml").path)
        #expect(transports.points.count == 18)
    }

    @Test func theMatrixExpandsInOrderWithTheLastAxisFastest() throws {
        let scenario = try ScenarioFile.parse("""
            topology:
              workers: 2
            load:
              model: open
              rate: 1000
            matrix:
              topology.transport: [inproc, tcp]
              workload.payload: [64, 1024, 65536]
            """, file: "m.yaml")
        #expect(scenario.points.map(\.id) == [
            "transport=inproc,payload=64", "transport=inproc,payload=1024", "transport=inproc,payload=65536",
            "transport=tcp,payload=64", "transport=tcp,payload=1024", "transport=tcp,payload=65536",
        ])
        #expect(scenario.points[4].transport == .tcp)
        #expect(scenario.points[4].payload == .fixed(1024))
        #expect(scenario.points.allSatisfy { $0.workers == 2 && $0.load == .open(rate: 1000) })
        #expect(scenario.name == "m")
    }

    @Test func everyKeyIsRead() throws {
        let scenario = try ScenarioFile.parse("""
            name: custom
            repeats: 3
            calibrate: false
            topology: {transport: ipc, deployment: processes, dispatch: reliable, handoff: sockets, credit: 8, workers: 4, high_water_mark: 50}
            workload:
              payload: {distribution: choice, sizes: [64, 4096], weights: [3, 1]}
              flow: steps3
              handler: stall 20ms every 100
            load: {model: ramp, rate: 100, to: 5000}
            phases: {warmup: 2s, measure: 10s, drain: 1s}
            """, file: "k.yaml")
        let p = try #require(scenario.points.first)
        #expect(scenario.name == "custom" && scenario.repeats == 3 && !scenario.calibrate)
        #expect(p.transport == .ipc && p.deployment == .processes && p.workers == 4 && p.highWaterMark == 50)
        #expect(p.dispatch == .reliable && p.credit == 8 && p.security == .none && p.handoff == .sockets)
        #expect(p.payload == .choice(sizes: [64, 4096], weights: [3, 1]))
        #expect(p.payload.mean == 1072)
        #expect(p.flow == .steps3 && p.handler == .stall(milliseconds: 20, every: 100))
        #expect(p.load == .ramp(from: 100, to: 5000))
        #expect(p.warmup == .seconds(2) && p.measureDuration == .seconds(10) && p.drain == .seconds(1))
    }

    @Test func aKneeSearchReadsItsSLOBoundsAndBudget() throws {
        let scenario = try ScenarioFile.parse("""
            load: {model: search, slo: {p99.9: 500us}, rate: 1000, to: 80000, tolerance: 2%, probes: 20, edge_repeats: 5}
            """, file: "knee.yaml")
        guard case .search(let spec)? = scenario.points.first?.load else { Issue.record("not a search"); return }
        #expect(spec.percentile == 99.9 && spec.limit == .microseconds(500) && spec.percentileName == "p99.9")
        #expect(spec.lowest == 1000 && spec.highest == 80000 && spec.tolerance == 0.02)
        #expect(spec.probes == 20 && spec.edgeRepeats == 5)
        // The defaults: the bounds come from the measured ceiling, 5 %, 16 probes, 3 repeats.
        let plain = try ScenarioFile.parse("load: {model: search, slo: {p99: 1ms}, tolerance: 0.1}\n", file: "k.yaml")
        guard case .search(let d)? = plain.points.first?.load else { Issue.record("not a search"); return }
        #expect(d.lowest == nil && d.highest == nil && d.ceilingInFlight == 1000 && d.tolerance == 0.1)
        #expect(d.probes == 16 && d.edgeRepeats == 3)
        // The SLO can be swept like any key.
        let swept = try ScenarioFile.parse("load: {model: search}\nmatrix:\n  load.slo: [{p99: 1ms}, {p50: 200us}]\n", file: "s.yaml")
        #expect(swept.points.map(\.id) == ["slo=p99:1ms", "slo=p50:200us"])
        #expect(swept.points.map(\.load) == [.search(.init(percentile: 99, limit: .milliseconds(1))),
                                             .search(.init(percentile: 50, limit: .microseconds(200)))])
    }

    @Test func flowTimeoutIsOffUnlessGivenAndSweepable() throws {
        let scenario = try ScenarioFile.parse("matrix:\n  topology.flow_timeout: [off, 60s]\n", file: "ft.yaml")
        #expect(scenario.points.map(\.flowTimeout) == [nil, .seconds(60)])
        #expect(try ScenarioFile.parse("topology: {workers: 2}\n", file: "none.yaml").points.first?.flowTimeout == nil)
    }

    @Test(arguments: [
        ("topology:\n  transport: udp\n", "bad.yaml:2: topology.transport: expected one of inproc, ipc, tcp, found \"udp\""),
        ("topology:\n  workers: 0\n", "bad.yaml:2: topology.workers: expected an integer from 1 to 64, found \"0\""),
        ("toplogy:\n  workers: 2\n", "bad.yaml:1: toplogy: unknown key; expected one of agents, calibrate, calibration, description, load, matrix, name, phases, repeats, topology, workload"),
        ("matrix:\n  topology.transport: [tcp, udp]\n", "bad.yaml:2: matrix.topology.transport[1]: expected one of inproc, ipc, tcp, found \"udp\""),
        ("matrix:\n  topology.colour: [red]\n", "bad.yaml:2: matrix.topology.colour: unknown matrix key"),
        ("load:\n  model: closed\n  rate: 5\n", "bad.yaml:3: load.rate: a closed-loop load has no rate; use load.model: open"),
        ("load:\n  model: open\n", "bad.yaml:2: load.rate: required: expected a number from 1.0 to 100000000.0"),
        ("phases:\n  measure: 1s\n  messages: 10\n", "bad.yaml:3: phases.messages: give either phases.measure (a duration) or phases.messages (a count), not both"),
        ("phases:\n  warmup: soon\n", "bad.yaml:2: phases.warmup: expected a duration such as 250ms, 2s, 100us or 1m, found \"soon\""),
        ("workload:\n  handler: sleep 5\n", "bad.yaml:2: workload.handler: expected \"echo\", \"spin <duration>\" (e.g. spin 20us) or \"stall <duration> every <N>\" (e.g. stall 50ms every 1000), found \"sleep 5\""),
        ("workload:\n  payload: {distribution: choice, sizes: [1, 2], weights: [1]}\n", "bad.yaml:2: workload.payload.weights: expected 2 weights, one per size, found 1"),
        ("topology: [1, 2]\n", "bad.yaml:1: topology: expected a mapping with keys transport, deployment, dispatch, handoff, credit, workers, high_water_mark, security, flow_timeout, found a list"),
        ("topology:\n  security: tls\n", "bad.yaml:2: topology.security: expected one of none, curve, found \"tls\""),
        ("topology:\n  transport: inproc\n  security: curve\n", "bad.yaml:2: topology.transport: security: curve needs transport ipc or tcp"),
        ("matrix:\n  topology.security: [none, curve]\n  topology.transport: [inproc]\n", "bad.yaml:3: matrix.topology.transport[0]: security: curve needs transport ipc or tcp"),
        ("topology:\n  flow_timeout: soon\n", "bad.yaml:2: topology.flow_timeout: expected a duration such as 250ms, 2s, 100us or 1m, found \"soon\""),
        ("topology:\n  flow_timeout: 0s\n", "bad.yaml:2: topology.flow_timeout: expected off or a positive duration such as 30s"),
        ("topology:\n  dispatch: safe\n", "bad.yaml:2: topology.dispatch: expected one of fast, reliable, found \"safe\""),
        ("topology:\n  handoff: queues\n", "bad.yaml:2: topology.handoff: expected one of rings, sockets, found \"queues\""),
        ("topology:\n  dispatch: reliable\n  credit: 0\n", "bad.yaml:3: topology.credit: expected an integer from 1 to 10000, found \"0\""),
        ("topology:\n  workers: [1\n", "bad.yaml:3: not valid YAML"),
        ("", "bad.yaml: the scenario is empty"),
        ("load:\n  model: search\n", "bad.yaml:2: load.model: a knee search needs load.slo: expected one percentile and its bound, such as {p99: 1ms}"),
        ("load:\n  model: search\n  slo: 1ms\n", "bad.yaml:3: load.slo: expected one percentile and its bound, such as {p99: 1ms} or {p99.9: 500us}, found a single value"),
        ("load:\n  model: search\n  slo: {p99: 1ms, p50: 1ms}\n", "bad.yaml:3: load.slo: expected one percentile and its bound, such as {p99: 1ms} or {p99.9: 500us}, found 2 keys"),
        ("load:\n  model: search\n  slo: {q99: 1ms}\n", "bad.yaml:3: load.slo.q99: expected a percentile key from p0.001 to p100, such as p50, p99 or p99.9, found \"q99\""),
        ("load:\n  model: search\n  slo: {p101: 1ms}\n", "bad.yaml:3: load.slo.p101: expected a percentile key"),
        ("load:\n  model: search\n  slo: {p99: fast}\n", "bad.yaml:3: load.slo.p99: expected a duration such as 250ms"),
        ("load:\n  model: search\n  slo: {p99: 0ms}\n", "bad.yaml:3: load.slo.p99: expected a positive duration such as 1ms or 250us"),
        ("load:\n  model: search\n  slo: {p99: 1ms}\n  rate: 5000\n  to: 5000\n", "bad.yaml:5: load.to: expected a highest rate above load.rate (5000 msg/s), found 5000"),
        ("load:\n  model: search\n  slo: {p99: 1ms}\n  to: 5000\n  in_flight: 10\n", "bad.yaml:5: load.in_flight: load.in_flight sets the closed loop that measures the highest rate"),
        ("load:\n  model: search\n  slo: {p99: 1ms}\n  tolerance: 60%\n", "bad.yaml:4: load.tolerance: expected a fraction from 0.001 to 0.5 or a percentage such as 5%, found \"60%\""),
        ("load:\n  model: search\n  slo: {p99: 1ms}\n  probes: 1\n", "bad.yaml:4: load.probes: expected an integer from 2 to 1000, found \"1\""),
        ("load:\n  model: open\n  rate: 10\n  slo: {p99: 1ms}\n", "bad.yaml:4: load.slo: load.slo belongs to a knee search; use load.model: search"),
        ("load:\n  model: tune\n", "bad.yaml:2: load.model: expected one of closed, open, ramp, search, found \"tune\""),
    ])
    func badScenariosNameFileLineKeyAndExpectation(text: String, message: String) throws {
        let error = #expect(throws: (any Error).self) { try ScenarioFile.parse(text, file: "bad.yaml") }
        let description = "\(error.map { "\($0)" } ?? "")"
        #expect(description.hasPrefix(message), "got: \(description)")
    }
}
