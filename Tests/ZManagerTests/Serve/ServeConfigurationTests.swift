import Foundation
import Testing
import ZManager
import ZeroMQ

/// `zmanager serve`'s configuration file: the dispatch keys, and errors that name file, line,
/// key and what was expected.
@Suite("Serve configuration")
struct ServeConfigurationTests {
    static let flows = "[F]\n?F?Push\n??done\n"

    @Test func theDispatchKeysAreRead() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let config = try ServeConfiguration.parse("""
                flows: flows.ini
                dispatch:
                  mode: reliable
                  credit: 8
                  heartbeat: 100ms
                  heartbeat_timeout: 1500ms
                  max_attempts: 5
                """, file: directory + "/zmanager.yaml")
            #expect(config.dispatch == DispatchOptions(mode: .reliable, credit: 8, heartbeat: .milliseconds(100),
                                                       heartbeatTimeout: .milliseconds(1500), maxAttempts: 5))
        }
    }

    @Test func theMetricsAddressIsRead() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let config = try ServeConfiguration.parse("flows: flows.ini\nmetrics: {listen: 'localhost:9464'}\n",
                                                      file: directory + "/zmanager.yaml")
            #expect(config.metricsListen == ListenAddress(host: "127.0.0.1", port: 9464))
            let none = try ServeConfiguration.parse("flows: flows.ini\n", file: directory + "/zmanager.yaml")
            #expect(none.metricsListen == nil)
        }
        #expect(ListenAddress("0.0.0.0:0") == ListenAddress(host: "0.0.0.0", port: 0))
        #expect(ListenAddress("1.2.3:80") == nil && ListenAddress("1.2.3.256:80") == nil && ListenAddress("1.2.3.4") == nil)
    }

    @Test func aMulticastGroupAndItsOptionsAreRead() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let config = try ServeConfiguration.parse("""
                flows: flows.ini
                endpoints:
                  integration_manager_multicast: 'epgm://192.168.1.10;239.192.1.1:5555'
                multicast: {rate_kbps: 500000, recovery_interval: 2s, hops: 4}
                """, file: directory + "/zmanager.yaml")
            #expect(config.endpoints.integrationManagerMulticast == "epgm://192.168.1.10;239.192.1.1:5555")
            #expect(config.multicast == MulticastOptions(rateKilobitsPerSecond: 500_000, recoveryInterval: .seconds(2), hops: 4))
            let none = try ServeConfiguration.parse("flows: flows.ini\n", file: directory + "/zmanager.yaml")
            #expect(none.endpoints.integrationManagerMulticast == nil)
            #expect(none.multicast == MulticastOptions(rateKilobitsPerSecond: 100_000, recoveryInterval: .seconds(10), hops: 1))
        }
        #expect(MulticastOptions.problem(with: "pgm://eth0;224.0.0.251:7500") == nil)
        #expect(MulticastOptions.problem(with: "epgm://10.0.0.1;240.0.0.1:7500") != nil)
    }

    /// CURVE needs a handshake per connection and PGM has none: the group would carry the
    /// publication in clear text, so the two are refused together, in the file and by the node.
    @Test func curveTogetherWithAMulticastGroupIsRefused() throws {
        let keys = try CurveKeyPair.generate()
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            _ = try CurveCertificate.write(keyPair: keys, name: "server", directory: directory)
            try FileManager.default.createDirectory(atPath: directory + "/clients", withIntermediateDirectories: true)
            _ = try CurveCertificate.write(keyPair: try CurveKeyPair.generate(), name: "client", directory: directory + "/clients")
            let error = #expect(throws: ConfigurationError.self) {
                try ServeConfiguration.parse("""
                    flows: flows.ini
                    endpoints:
                      integration_manager_multicast: 'epgm://10.0.0.1;239.192.1.1:5555'
                    security:
                      curve: {secret_key: server.key_secret, clients: clients}
                    """, file: directory + "/zmanager.yaml")
            }
            let description = error.map { "\($0)" } ?? ""
            #expect(description.contains("zmanager.yaml:5: security.curve: CURVE security cannot protect a multicast group"),
                    "got: \(description)")
        }
        #expect(throws: MulticastRefused.self) {
            _ = try ZManagerNode(endpoints: Endpoints(subjectFront: "inproc://m-s", subjectWorkers: "inproc://m-w",
                                                      integrationManagerPull: "inproc://m-p", integrationManagerPub: "inproc://m-b",
                                                      integrationManagerMulticast: "epgm://10.0.0.1;239.192.1.1:5555"),
                                 flows: try FlowTable(parsing: Self.flows), mapping: ActionMapping(), handlers: .withBuiltins,
                                 options: .init(security: NodeSecurity(curve: CurveSecurity(server: keys, serverKey: keys.publicKey,
                                                                                            client: keys), allowed: [:])))
        }
    }

    @Test func flowsHaveADeadlineOnlyWhenOneIsSet() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let none = try ServeConfiguration.parse("flows: flows.ini\n", file: directory + "/zmanager.yaml")
            #expect(none.limits.flowTimeout == nil)
            let set = try ServeConfiguration.parse("flows: flows.ini\nlimits:\n  flow_timeout: 1.5s\n",
                                                   file: directory + "/zmanager.yaml")
            #expect(set.limits.flowTimeout == .milliseconds(1_500))
        }
    }

    @Test func withoutDispatchKeysDispatchIsFast() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let config = try ServeConfiguration.parse("flows: flows.ini\n", file: directory + "/zmanager.yaml")
            #expect(config.dispatch == DispatchOptions())
            #expect(config.dispatch.mode == .fast)
            #expect(config.inProcessRings, "the node's own workers are handed steps through rings by default")
        }
    }

    @Test func handoffSocketsTurnsTheRingsOff() throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let config = try ServeConfiguration.parse("flows: flows.ini\ndispatch:\n  handoff: sockets\n",
                                                      file: directory + "/zmanager.yaml")
            #expect(!config.inProcessRings)
            let reliable = try ServeConfiguration.parse("flows: flows.ini\ndispatch:\n  mode: reliable\n",
                                                        file: directory + "/zmanager.yaml")
            #expect(reliable.dispatch.mode == .reliable, "reliable dispatch without a handoff key is fine")
        }
    }

    @Test(arguments: [
        ("dispatch:\n  mode: safe\n", "zmanager.yaml:3: dispatch.mode: expected one of fast, reliable, found \"safe\""),
        ("dispatch:\n  credit: 0\n", "zmanager.yaml:3: dispatch.credit: expected an integer from 1 to 10000, found \"0\""),
        ("dispatch:\n  heartbeat: 2s\n  heartbeat_timeout: 1s\n",
         "zmanager.yaml:4: dispatch.heartbeat_timeout: expected a duration longer than dispatch.heartbeat (2.0 seconds), found 1.0 seconds"),
        ("dispatch:\n  retries: 3\n", "zmanager.yaml:3: dispatch.retries: unknown key"),
        ("dispatch:\n  handoff: pipes\n", "zmanager.yaml:3: dispatch.handoff: expected one of rings, sockets, found \"pipes\""),
        ("dispatch:\n  mode: reliable\n  handoff: rings\n", "zmanager.yaml:4: dispatch.handoff: handoff: rings needs dispatch.mode: fast"),
        ("metrics:\n  listen: 9464\n", "zmanager.yaml:3: metrics.listen: expected HOST:PORT with an IPv4 address"),
        ("metrics:\n  listen: 127.0.0.1:70000\n", "zmanager.yaml:3: metrics.listen: expected HOST:PORT"),
        ("metrics:\n  listen: example.com:80\n", "found \"example.com:80\""),
        ("metrics:\n  port: 80\n", "zmanager.yaml:3: metrics.port: unknown key"),
        ("log_level: loud\n", "zmanager.yaml:2: log_level: expected one of trace, debug, info, notice, warning, error, critical, found \"loud\""),
        ("limits:\n  flow_timeout: 0s\n", "zmanager.yaml:3: limits.flow_timeout: expected a positive duration such as 30s, found 0"),
        ("limits:\n  flow_timeout: soon\n", "zmanager.yaml:3: limits.flow_timeout: expected a duration such as 250ms"),
        ("endpoints:\n  integration_manager_multicast: tcp://127.0.0.1:5555\n",
         "zmanager.yaml:3: endpoints.integration_manager_multicast: expected epgm://INTERFACE;GROUP:PORT"),
        ("endpoints:\n  integration_manager_multicast: 'epgm://239.192.1.1:5555'\n",
         "\"epgm://239.192.1.1:5555\": the sending interface is missing before ';'"),
        ("endpoints:\n  integration_manager_multicast: 'epgm://10.0.0.1;10.0.0.2:5555'\n",
         ": 10.0.0.2 is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"),
        ("endpoints:\n  integration_manager_multicast: 'epgm://10.0.0.1;239.192.1.1'\n", ": the port is missing or not 1-65535"),
        ("endpoints:\n  integration_manager_multicast: 'norm://10.0.0.1;239.192.1.1:5555'\n", ": NORM is not supported"),
        ("multicast:\n  rate_kbps: 0\n", "zmanager.yaml:3: multicast.rate_kbps: expected an integer from 1 to 100000000, found \"0\""),
        ("multicast:\n  hops: 256\n", "zmanager.yaml:3: multicast.hops: expected an integer from 1 to 255"),
        ("multicast:\n  recovery_interval: 0s\n", "zmanager.yaml:3: multicast.recovery_interval: expected a duration of at least 1ms"),
        ("multicast:\n  group: 239.1.1.1\n", "zmanager.yaml:3: multicast.group: unknown key"),
    ])
    func badDispatchKeysNameFileLineAndExpectation(text: String, message: String) throws {
        try withTemporaryDirectory(files: ["flows.ini": Self.flows]) { directory in
            let error = #expect(throws: ConfigurationError.self) {
                try ServeConfiguration.parse("flows: flows.ini\n" + text, file: directory + "/zmanager.yaml")
            }
            let description = error.map { "\($0)" } ?? ""
            #expect(description.hasSuffix(message) || description.contains(message), "got: \(description)")
        }
    }
}
