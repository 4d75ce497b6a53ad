import Testing
@testable import ZManager

/// Every routing rule of docs/PROTOCOL.md §6 on values: a header's bytes in, the router's
/// decision out. No sockets, no threads (the pipeline tests cover the sockets).
@Suite("Routing: the flow router and the message classifier")
struct RoutingFlowRouterTests {
    /// One flow per next-step kind after `Push`, and one flow with every kind in a row.
    static let flowText = """
        [Plain]
        ?Plain?Push
        Subject?Plain?work
        ??done

        [Empty]
        ?Empty?Push
        ??done

        [Published]
        ?Published?Push
        Subject?Published@PUBLISH?announce
        ??done

        [Parked]
        ?Parked?Push
        Subject?Parked@ASYNC?external
        ??done

        [Mixed]
        ?Mixed?Push
        Subject?Mixed?first
        ?Mixed?second
        ?Mixed@PUBLISH?shown
        ?Mixed@PUBLISH?told
        ?Mixed?elsewhere
        ?Mixed@ASYNC?wait
        ?Mixed?last
        ??done
        """

    /// The worker maps `first`, `second`, `shown` and `last`, and a `??done` entry that resolves
    /// every `??done` step; `told`, `elsewhere`, `wait` and the other flows' steps are a service's.
    static let workerMapping = """
        [actionmapping]
        ?Mixed?first = w.first
        ?Mixed?second = w.second
        ?Mixed@PUBLISH?shown = w.shown
        ?Mixed?last = w.last
        ?Plain?work = w.work
        ??done = w.done
        """

    static let serviceMapping = """
        [actionmapping]
        ?Mixed@PUBLISH?told = s.told
        ?Mixed?elsewhere = s.elsewhere
        ?Mixed@ASYNC?wait = s.wait
        ?Mixed?Push = s.never
        """

    let flows: FlowTable
    let routing: RoutingTable

    init() throws {
        flows = try FlowTable(parsing: Self.flowText)
        routing = RoutingTable(flows: flows)
    }

    func router(_ role: FlowRouter.Role, mapping text: String = "[actionmapping]\n") throws -> FlowRouter {
        let resolved = ResolvedFlowTable(flows: flows, mapping: try ActionMapping(parsing: text))
        return FlowRouter(routing: routing, role: role) { resolved.handler(at: $0) != nil }
    }

    func position(_ flow: String, _ step: Int) throws -> FlowPosition {
        FlowPosition(flow: try #require(flows.flowIndex(named: flow)), step: step)
    }

    /// The position the core finds for a received header (the lookup every role does first).
    func position(ofHeader header: String) throws -> FlowPosition? {
        let bytes = Array(header.utf8)
        return try bytes.withUnsafeBytes { buffer in
            flows.position(ofHeader: try WireHeader.parse(buffer), in: buffer)
        }
    }

    func classify(_ header: String) throws -> MessageClass {
        let bytes = Array(header.utf8)
        return try bytes.withUnsafeBytes { MessageClass(try WireHeader.parse($0), in: $0) }
    }

    func next(_ router: FlowRouter, after flow: String, _ step: Int) throws -> FlowRouter.Next? {
        router.next(after: try position(flow, step))
    }

    // MARK: The Subject (§6.2)

    @Test("classification follows the rule order: Push, completed_command, ASYNC, PUBLISH, anything else")
    func classification() throws {
        #expect(try classify("Plain~~client~~Push~id~body") == .start)
        // Rule 2 comes first: a Push with a decorator still starts a flow.
        #expect(try classify("Parked~ASYNC~client~~Push~id~") == .start)
        #expect(try classify("completed_command~~~~done~id~") == .completedCommand)
        #expect(try classify("completed_command~~x~y~done~id~") == .completedCommand)
        // completed_command without `done` is not an answer.
        #expect(try classify("completed_command~~~~other~id~") == .step)
        #expect(try classify("Parked~ASYNC~Subject~Parked~external~id~") == .asyncResponse)
        #expect(try classify("Published~PUBLISH~Subject~Published~announce~id~") == .published)
        #expect(try classify("Plain~~Subject~Plain~work~id~") == .step)
        #expect(try classify("Plain~~~~done~id~") == .step)
    }

    @Test("fields compare as raw bytes: no case folding, no prefixes")
    func classificationIsExact() throws {
        #expect(try classify("Plain~~client~~push~id~") == .step)
        #expect(try classify("Plain~~client~~Pushed~id~") == .step)
        #expect(try classify("Published~publish~Subject~Published~announce~id~") == .step)
        #expect(try classify("Parked~async~Subject~Parked~external~id~") == .step)
        #expect(try classify("Parked~ASYNCX~Subject~Parked~external~id~") == .step)
    }

    @Test("after Push: plain to the workers, done and PUBLISH to the IM, ASYNC parked")
    func subjectStartsFlows() throws {
        let subject = try router(.subject)
        let push = try #require(try position(ofHeader: "Plain~~client~~Push~id~"))
        #expect(subject.next(after: push) == .init(position: try position("Plain", 1), hop: .workers))
        #expect(try next(subject, after: "Empty", 0) == .init(position: try position("Empty", 1), hop: .result))
        #expect(try next(subject, after: "Published", 0) == .init(position: try position("Published", 1), hop: .publish))
        #expect(try next(subject, after: "Parked", 0) == .init(position: try position("Parked", 1), hop: .park))
    }

    @Test("the Subject executes nothing, whatever the mapping says")
    func subjectIgnoresMappings() throws {
        let subject = try router(.subject, mapping: Self.workerMapping)
        #expect(try next(subject, after: "Mixed", 1) == .init(position: try position("Mixed", 2), hop: .workers))
        #expect(try next(subject, after: "Mixed", 3) == .init(position: try position("Mixed", 4), hop: .publish))
    }

    @Test("the next step's header is that step's five fields")
    func prefixes() throws {
        let subject = try router(.subject)
        let next = try #require(try next(subject, after: "Plain", 0))
        #expect(String(decoding: subject.prefix(next.position), as: UTF8.self) == "Plain~~Subject~Plain~work~")
        #expect(String(decoding: subject.prefix(try position("Plain", 2)), as: UTF8.self) == "Plain~~~~done~")
        #expect(String(decoding: subject.prefix(try position("Parked", 1)), as: UTF8.self)
            == "Parked~ASYNC~Subject~Parked~external~")
    }

    // MARK: A worker (§6.3)

    @Test("a worker executes what it maps, publishes service-owned ASYNC and PUBLISH steps, refuses the rest")
    func workerArrivals() throws {
        let worker = try router(.worker, mapping: Self.workerMapping)
        #expect(worker.arrival(at: try position("Mixed", 1)) == .execute)
        #expect(worker.arrival(at: try position("Mixed", 3)) == .execute)
        #expect(worker.arrival(at: try position("Mixed", 4)) == .publish)   // @PUBLISH, a service's
        #expect(worker.arrival(at: try position("Mixed", 6)) == .publish)   // @ASYNC, a service's
        #expect(worker.arrival(at: try position("Mixed", 5)) == .unmapped)  // plain, a service's
        #expect(worker.arrival(at: try position("Published", 1)) == .publish)
        #expect(worker.arrival(at: try position("Parked", 1)) == .publish)
    }

    @Test("a ??done step is never executed, even when a mapping entry resolves it")
    func doneIsNotExecuted() throws {
        let worker = try router(.worker, mapping: Self.workerMapping)
        let done = try #require(try position(ofHeader: "Mixed~~~~done~id~"))
        #expect(done == (try position("Mixed", 8)))
        #expect(worker.arrival(at: done) == .endOfFlow)
        #expect(worker.next(after: done) == nil)
        #expect(try router(.service, mapping: "[actionmapping]\n?? = s.any\n").arrival(at: done) == .endOfFlow)
    }

    @Test("after a step a worker goes on in-line while it maps the next step")
    func workerNextSteps() throws {
        let worker = try router(.worker, mapping: Self.workerMapping)
        // plain, mapped: in-line
        #expect(try next(worker, after: "Mixed", 1) == .init(position: try position("Mixed", 2), hop: .runHere))
        // @PUBLISH, mapped: a published copy, then in-line
        #expect(try next(worker, after: "Mixed", 2) == .init(position: try position("Mixed", 3), hop: .publishAndRunHere))
        // @PUBLISH, not mapped: published for the service, the worker stops
        #expect(try next(worker, after: "Mixed", 3) == .init(position: try position("Mixed", 4), hop: .publish))
        // plain, not mapped: published for a service that maps it, as DigitalPy does
        #expect(try next(worker, after: "Mixed", 4) == .init(position: try position("Mixed", 5), hop: .publish))
        // @ASYNC: parked, mapped or not
        #expect(try next(worker, after: "Mixed", 5) == .init(position: try position("Mixed", 6), hop: .park))
        // ??done: the result, although `??done` maps it
        #expect(try next(worker, after: "Mixed", 7) == .init(position: try position("Mixed", 8), hop: .result))
        #expect(try next(worker, after: "Plain", 1) == .init(position: try position("Plain", 2), hop: .result))
    }

    // MARK: A service (§6.4)

    @Test("a service executes its mapped steps except a flow's Push and ??done, and ignores the rest")
    func serviceArrivals() throws {
        let resolved = ResolvedFlowTable(flows: flows, mapping: try ActionMapping(parsing: Self.serviceMapping))
        let service = FlowRouter(routing: routing, role: .service) {
            $0.step > 0 && !flows.step(at: $0).isEndOfFlow && resolved.handler(at: $0) != nil
        }
        #expect(service.arrival(at: try position("Mixed", 4)) == .execute)
        #expect(service.arrival(at: try position("Mixed", 5)) == .execute)
        #expect(service.arrival(at: try position("Mixed", 6)) == .execute)
        #expect(service.arrival(at: try position("Mixed", 0)) == .notMine)  // Push: the Subject's
        #expect(service.arrival(at: try position("Mixed", 1)) == .notMine)  // a worker's
        #expect(service.arrival(at: try position("Mixed", 3)) == .notMine)
    }

    @Test("a service hands every next step but done and ASYNC to the Subject")
    func serviceNextSteps() throws {
        let service = try router(.service, mapping: Self.serviceMapping)
        #expect(try next(service, after: "Mixed", 3) == .init(position: try position("Mixed", 4), hop: .subject))
        #expect(try next(service, after: "Mixed", 4) == .init(position: try position("Mixed", 5), hop: .subject))
        #expect(try next(service, after: "Mixed", 5) == .init(position: try position("Mixed", 6), hop: .park))
        #expect(try next(service, after: "Mixed", 7) == .init(position: try position("Mixed", 8), hop: .result))
    }

    // MARK: Tables

    @Test("flat indexes cover every step of every flow exactly once")
    func flatIndexes() throws {
        let worker = try router(.worker, mapping: Self.workerMapping)
        var seen = Set<Int>()
        for (f, flow) in flows.flows.enumerated() {
            for s in flow.steps.indices { seen.insert(worker.index(FlowPosition(flow: f, step: s))) }
        }
        #expect(seen == Set(0..<worker.stepCount))
        #expect(worker.stepCount == flows.flows.map(\.steps.count).reduce(0, +))
    }

    @Test("only ??done has no next step")
    func everyStepButDoneHasANext() throws {
        for role in [FlowRouter.Role.subject, .worker, .service] {
            let router = try router(role, mapping: Self.workerMapping)
            for (f, flow) in flows.flows.enumerated() {
                for (s, step) in flow.steps.enumerated() {
                    let next = router.next(after: FlowPosition(flow: f, step: s))
                    #expect((next == nil) == step.isEndOfFlow, "\(role) \(flow.name) step \(s)")
                    if let next { #expect(next.position == FlowPosition(flow: f, step: s + 1)) }
                }
            }
        }
    }
}
