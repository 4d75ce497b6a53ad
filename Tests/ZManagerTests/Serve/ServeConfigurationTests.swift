import Testing
import ZManager

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
        }
    }

    @Test(arguments: [
        ("dispatch:\n  mode: safe\n", "zmanager.yaml:3: dispatch.mode: expected one of fast, reliable, found \"safe\""),
        ("dispatch:\n  credit: 0\n", "zmanager.yaml:3: dispatch.credit: expected an integer from 1 to 10000, found \"0\""),
        ("dispatch:\n  heartbeat: 2s\n  heartbeat_timeout: 1s\n",
         "zmanager.yaml:4: dispatch.heartbeat_timeout: expected a duration longer than dispatch.heartbeat (2.0 seconds), found 1.0 seconds"),
        ("dispatch:\n  retries: 3\n", "zmanager.yaml:3: dispatch.retries: unknown key"),
        ("metrics:\n  listen: 9464\n", "zmanager.yaml:3: metrics.listen: expected HOST:PORT with an IPv4 address"),
        ("metrics:\n  listen: 127.0.0.1:70000\n", "zmanager.yaml:3: metrics.listen: expected HOST:PORT"),
        ("metrics:\n  listen: example.com:80\n", "found \"example.com:80\""),
        ("metrics:\n  port: 80\n", "zmanager.yaml:3: metrics.port: unknown key"),
        ("log_level: loud\n", "zmanager.yaml:2: log_level: expected one of trace, debug, info, notice, warning, error, critical, found \"loud\""),
        ("limits:\n  flow_timeout: 0s\n", "zmanager.yaml:3: limits.flow_timeout: expected a positive duration such as 30s, found 0"),
        ("limits:\n  flow_timeout: soon\n", "zmanager.yaml:3: limits.flow_timeout: expected a duration such as 250ms"),
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
