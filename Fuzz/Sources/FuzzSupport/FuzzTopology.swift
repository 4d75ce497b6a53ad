import ZeroMQ
public import ZManager

/// The flows, mapping and limits both fuzz targets run with: every kind of step and hop a role
/// routes (plain steps run in-line, a published copy that runs here too, a step only a service
/// maps, a park, a flow with no work, a shadowed step that loads), handlers that decode bodies and
/// throw, and small limits so that `oversized`, long ids and full tables are reachable with
/// inputs of a few KiB.
public enum FuzzTopology {
    public static let flows = """
        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done

        [Chain]
        ?Chain?Push
        Subject?Chain?Tag
        ?Chain?Stamp
        ?Chain@PUBLISH?Audit
        ?Chain?Tag2
        ??done

        [Async]
        ?Async?Push
        Subject?Async?Tag
        ?Async@ASYNC?Finish
        ??done

        [Pub]
        ?Pub?Push
        ?Pub@PUBLISH?Note
        ??done

        [Remote]
        ?Remote?Push
        Subject?Remote?Echo
        ?Remote?Elsewhere
        ??done

        [Empty]
        ?Empty?Push
        ??done

        [Shadow]
        ?Shadow?Push
        Subject?Shadow?Check
        ?Shadow?Stamp
        ?Shadow?Check
        ??done
        """

    /// `??done` is mapped on purpose: a pushed result header must still not be executed.
    public static let mapping = """
        [actionmapping]
        ??Echo = zmanager.builtin.echo
        ??Tag = zmanager.builtin.tag
        ??Tag2 = zmanager.builtin.tag
        ??Stamp = zmanager.builtin.stamp
        ??Audit = zmanager.builtin.tag
        ??Finish = zmanager.builtin.stamp
        ??Check = zmanager.builtin.echo
        ??done = zmanager.builtin.echo
        """

    public static var limits: RoleLimits {
        var limits = RoleLimits()
        limits.maxMessageSize = 2_048
        limits.maxIDLength = 48
        limits.highWaterMark = 1_000
        limits.dispatchTimeout = .milliseconds(200)
        limits.heldBytes = 1 << 20
        return limits
    }

    public static var async: AsyncOptions {
        AsyncOptions(timeout: .milliseconds(500), capacity: 64, earlyAnswerWindow: .milliseconds(200),
                     earlyAnswerCapacity: 16)
    }

    public static func routing() -> RoutingTable {
        do {
            return RoutingTable(flows: try FlowTable(parsing: flows, path: "fuzz-flows.ini"))
        } catch {
            fatalError("the fuzz flows do not load: \(error)")
        }
    }

    /// A worker fed by a PUSH bound here; the sentinel is an `Echo` step, answered by its result.
    public static func worker() -> RoleHarness {
        do {
            let context = try Context()
            let feed = try bound(context, .push, "inproc://fuzz-subject-workers")
            let integrationManager = try bound(context, .pull, "inproc://fuzz-im")
            let front = try bound(context, .pull, "inproc://fuzz-subject-front")
            let worker = try Worker(
                name: "fuzz", context: context, subject: "inproc://fuzz-subject-workers",
                subjectFront: "inproc://fuzz-subject-front", integrationManager: "inproc://fuzz-im",
                routing: routing(), mapping: try ActionMapping(parsing: mapping, path: "fuzz-mapping.ini"),
                handlers: .withBuiltins, limits: limits, statistics: CoreStatistics())
            _ = SocketThread.start(name: "fuzz-worker") { worker.run() }
            return try RoleHarness(
                feed: feed,
                outputs: [.output("the Integration Manager", integrationManager),
                          .output("the Subject's front", front, headerAfterVerb: true)],
                sentinel: { id in [Array("Echo~~Subject~Echo~Echo~\(id)~".utf8)] },
                answersSentinel: { frame, id in frame.elementsEqual("Echo~~~~done~\(id)~".utf8) })
        } catch {
            fatalError("the fuzz worker does not start: \(error)")
        }
    }

    /// A Subject fed at its front by a PUSH connected here; the sentinel is a ping, answered by
    /// its PONG at the Integration Manager.
    public static func subject() -> RoleHarness {
        do {
            let context = try Context()
            let integrationManager = try bound(context, .pull, "inproc://fuzz-im")
            let subject = try Subject(
                context: context, frontEndpoint: "inproc://fuzz-subject-front",
                workerEndpoint: "inproc://fuzz-subject-workers", integrationManager: "inproc://fuzz-im",
                routing: routing(), limits: limits, async: async, statistics: CoreStatistics())
            let feed = try Socket(context, .push)
            try feed.connect("inproc://fuzz-subject-front")
            let workers = try Socket(context, .pull)
            try workers.connect("inproc://fuzz-subject-workers")
            _ = SocketThread.start(name: "fuzz-subject") { subject.run() }
            return try RoleHarness(
                feed: feed,
                outputs: [.output("the Integration Manager", integrationManager), .output("the workers", workers)],
                sentinel: { id in [[0, UInt8(ascii: "I")], Array(id.utf8)] },
                answersSentinel: { frame, id in frame.elementsEqual("zmanager_control~PONG~~~~\(id)~".utf8) })
        } catch {
            fatalError("the fuzz Subject does not start: \(error)")
        }
    }

    private static func bound(_ context: Context, _ type: SocketType, _ endpoint: String) throws(ZMQError) -> Socket {
        let socket = try Socket(context, type)
        try socket.bind(endpoint)
        return socket
    }
}
