public import Prometheus
public import ZManager
public import ZeroMQ
import Synchronization

/// Prometheus metrics of a running node or worker, read from the counters the roles already
/// keep (``CoreStatistics``, the buffer pool, serve's supervisor) when `/metrics` is scraped.
///
/// Nothing is counted twice: the roles increment their relaxed atomics on the hot path as
/// before, and each scrape copies those process-lifetime values into the registry's counters
/// and gauges, then renders the registry. Anything else registered in ``registry`` (a
/// component's own swift-metrics counters, through `PrometheusMetricsFactory`) is rendered
/// with them.
public final class MetricsExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let mirrored = Mutex<[Mirrored]>([])
    /// Text rendered after the registry's: families the registry cannot mirror (a histogram
    /// whose buckets live elsewhere).
    private let appended = Mutex<[@Sendable () -> String]>([])

    /// One registry metric and where its value comes from.
    private struct Mirrored: Sendable {
        let update: @Sendable () -> Void
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// A counter whose value is `read()`: a count since the process started, which only grows.
    /// Series of one name (different labels) must share their `help` (the registry traps otherwise).
    public func counter(_ name: String, labels: [(String, String)] = [], help: String,
                        _ read: @escaping @Sendable () -> Int) {
        let counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
        mirrored.withLock {
            $0.append(Mirrored { counter.reset(); counter.increment(by: Int64(read())) })
        }
    }

    /// A gauge whose value is `read()`.
    public func gauge(_ name: String, labels: [(String, String)] = [], help: String,
                      _ read: @escaping @Sendable () -> Double) {
        let gauge = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
        mirrored.withLock { $0.append(Mirrored { gauge.set(to: read()) }) }
    }

    /// The whole name as given (its unit suffix, `_total`, included).
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Reads every mirrored value and renders the registry in Prometheus' text format.
    /// Serialised: two scrapes at once cannot see each other's half-updated counters.
    public func render() -> String {
        let text = mirrored.withLock { metrics in
            for metric in metrics { metric.update() }
            return registry.emitToString()
        }
        return appended.withLock { renderers in renderers.reduce(text) { $0 + $1() } }
    }
}

extension MetricsExporter {
    /// The core's counters, as `zmanager_*` metrics (docs/OPERATIONS.md lists them).
    public func exportCore(_ statistics: CoreStatistics) {
        let s = statistics
        let received = "Messages a role took in."
        counter("zmanager_messages_received_total", labels: [("role", "subject")], help: received) {
            s.subjectReceived.load(ordering: .relaxed)
        }
        counter("zmanager_messages_received_total", labels: [("role", "worker")], help: received) {
            s.workerReceived.load(ordering: .relaxed)
        }
        counter("zmanager_messages_received_total", labels: [("role", "integration_manager")], help: received) {
            s.integrationManagerReceived.load(ordering: .relaxed)
        }
        let sent = "Messages a role sent whole (control messages of reliable dispatch included)."
        counter("zmanager_messages_sent_total", labels: [("role", "subject")], help: sent) { s.subjectSent.value }
        counter("zmanager_messages_sent_total", labels: [("role", "worker")], help: sent) { s.workerSent.value }
        counter("zmanager_messages_published_total", labels: [("role", "integration_manager")],
                help: "Messages the Integration Manager published.") { s.published.load(ordering: .relaxed) }
        counter("zmanager_flows_started_total", help: "Flows the Subject started.") { s.flowsStarted.load(ordering: .relaxed) }
        counter("zmanager_flow_results_total", help: "Flow results the Integration Manager published.") {
            s.results.load(ordering: .relaxed)
        }
        for kind in ErrorKind.allCases {
            counter("zmanager_errors_total", labels: [("kind", kind.rawValue)],
                    help: "Error messages the Integration Manager published, by kind.") { s.errorsByKind[kind] }
        }
        counter("zmanager_errors_not_sent_total",
                help: "Error messages a role could not send (the send threw): no service sees them.") {
            s.errorsNotSent.load(ordering: .relaxed)
        }
        counter("zmanager_late_messages_dropped_total",
                help: "Messages of flows ended by their deadline (flow_timeout), dropped by the Integration Manager.") {
            s.lateMessagesDropped.load(ordering: .relaxed)
        }
        counter("zmanager_ends_outside_flows_total",
                help: "Results and errors published for no open flow (flow_timeout on): not counted as flow ends.") {
            s.endsOutsideFlows.load(ordering: .relaxed)
        }
        counter("zmanager_publish_dropped_total",
                help: "Messages the Integration Manager could not publish because a subscriber of their topic was full.") {
            s.publishDropped.load(ordering: .relaxed)
        }
        counter("zmanager_handler_calls_total", help: "Handler executions.") { s.handlerCalls.load(ordering: .relaxed) }
        gauge("zmanager_flows_in_flight", help: "Flows started and not yet ended by a result or an error.") {
            Double(s.inFlight)
        }
        gauge("zmanager_async_parked_flows", help: "Flows parked at an ASYNC step.") { Double(s.parked.load(ordering: .relaxed)) }
        counter("zmanager_async_early_answers_total",
                help: "ASYNC answers that arrived before their park and continued the flow when it came.") {
            s.earlyAnswersUsed.load(ordering: .relaxed)
        }
        gauge("zmanager_steps_waiting_for_workers", help: "Steps waiting at the Subject for a worker to take them.") {
            Double(s.waitingForWorkers.load(ordering: .relaxed))
        }
        gauge("zmanager_intake_paused", help: "1 while the Subject stops reading its front because every waiting place is taken.") {
            s.intakePaused.load(ordering: .relaxed) ? 1 : 0
        }
        counter("zmanager_redeliveries_total", help: "Reliable dispatch: steps dealt again because their worker was lost.") {
            s.redelivered.load(ordering: .relaxed)
        }
        counter("zmanager_workers_lost_total", help: "Reliable dispatch: workers found gone.") { s.workersLost.load(ordering: .relaxed) }
        counter("zmanager_stale_outputs_dropped_total",
                help: "Reliable dispatch: outputs of a step dealt again since, dropped.") { s.staleOutputsDropped.load(ordering: .relaxed) }
        gauge("zmanager_workers_connected", help: "Reliable dispatch: workers registered and not lost (0 with fast dispatch).") {
            Double(s.workersConnected.load(ordering: .relaxed))
        }
    }

    /// The shared buffer pool's counters.
    public func exportBufferPool(_ pool: BufferPool = .shared) {
        counter("zmanager_buffer_pool_hits_total", help: "Message buffers taken from the pool.") { pool.statistics.hits }
        counter("zmanager_buffer_pool_fallbacks_total", help: "Message buffers allocated because the pool had none free.") {
            pool.statistics.fallbacks
        }
        gauge("zmanager_buffer_pool_buffers_in_use", help: "Message buffers owned by messages now.") { Double(pool.statistics.inUse) }
    }
}

extension MetricsExporter {
    /// Handshakes on a secured node's tcp and ipc endpoints, by result: `accepted`, `refused` (the
    /// ZAP handler said no to the key) and `failed` (no CURVE, the wrong server key, not ZMTP).
    public func exportAuthentication(_ statistics: AuthenticationStatistics) {
        let help = "Handshakes on the secured (CURVE) endpoints, by result."
        counter("zmanager_auth_handshakes_total", labels: [("result", "accepted")], help: help) {
            statistics.accepted.load(ordering: .relaxed)
        }
        counter("zmanager_auth_handshakes_total", labels: [("result", "refused")], help: help) {
            statistics.refused.load(ordering: .relaxed)
        }
        counter("zmanager_auth_handshakes_total", labels: [("result", "failed")], help: help) {
            statistics.failed.load(ordering: .relaxed)
        }
    }
}

extension MetricsExporter {
    /// Per-flow time from the Subject's intake to the result, as the Prometheus histogram
    /// `zmanager_flow_duration_seconds{flow=…}` (recorded while flows have a deadline,
    /// `limits.flow_timeout`; see ``FlowLatencies``).
    public func exportFlowLatencies(_ latencies: FlowLatencies) {
        appended.withLock { $0.append { Self.histogramText(latencies.snapshot) } }
    }

    /// Prometheus text (0.0.4) of the histograms, flows in name order.
    static func histogramText(_ histograms: [String: FlowLatencies.Histogram]) -> String {
        let name = "zmanager_flow_duration_seconds"
        var text = "# HELP \(name) Time from the Subject's intake to the flow's result, per flow (flows with a deadline only).\n"
        text += "# TYPE \(name) histogram\n"
        for flow in histograms.keys.sorted() {
            let histogram = histograms[flow]!
            let label = "flow=\"\(escape(flow))\""
            for (index, count) in histogram.cumulative.enumerated() {
                let bound = index < FlowLatencies.bounds.count ? "\(FlowLatencies.bounds[index])" : "+Inf"
                text += "\(name)_bucket{\(label),le=\"\(bound)\"} \(count)\n"
            }
            text += "\(name)_sum{\(label)} \(histogram.sum)\n"
            text += "\(name)_count{\(label)} \(histogram.count)\n"
        }
        return text
    }

    /// A label value with `\\`, `"` and newlines escaped, as the text format requires.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
