/// Every routing decision of the core, in one place and without sockets.
///
/// A role is *receive → decide → send*: it asks its router what a message means and where it
/// goes, then performs the answer with its sockets. The rules are those of docs/PROTOCOL.md §6
/// ("Hop by hop"); the Subject, the workers and the services each get a router for their role,
/// built once at start-up from the routing table and the steps the role executes, so a decision
/// at run time is one array index (no string, no hash, no allocation).
///
/// Because a router is immutable and touches no socket, every rule is a unit test on values
/// (`Tests/ZManagerTests/Routing/RoutingFlowRouterTests.swift`), the way swift-nio tests a
/// handler on an embedded channel.
final class FlowRouter: Sendable {
    /// The role a router decides for; it changes what "the next step" means (§6.2–6.4).
    enum Role: Sendable, Equatable {
        /// Executes no step: starts flows and sends the next step on.
        case subject
        /// Executes the steps it maps, several in a row.
        case worker
        /// Executes the steps it maps as they are published, one per delivery.
        case service
    }

    /// What a worker or service does with a step message it received.
    enum Arrival: Sendable, Equatable {
        /// A handler of this role runs the step.
        case execute
        /// Worker: an `@ASYNC` or `@PUBLISH` step a service executes (an ASYNC response, or a
        /// published step forwarded to a worker): published unchanged under its own header.
        case publish
        /// Worker: a plain step this worker has no handler for (`unmapped_action`).
        case unmapped
        /// The flow's `??done` step: a result is published, never executed (a `??` mapping entry
        /// resolves it, and executing it would look for a step after the last).
        case endOfFlow
        /// Service: a step it does not execute (another service's, delivered through an
        /// overlapping subscription prefix); counted, not answered.
        case notMine
    }

    /// Where the flow goes after a step has run (or, for the Subject, after `Push`).
    enum Hop: Sendable, Equatable {
        /// `??done`: the result goes to the Integration Manager.
        case result
        /// `@ASYNC`: the flow parks (the Subject parks it; a worker or service sends it to the
        /// Subject with the park verb).
        case park
        /// To the Integration Manager under the next step's header, for the service that
        /// executes it; this role stops here.
        case publish
        /// Worker: a `@PUBLISH` step it maps too: a published copy, then it runs the step.
        case publishAndRunHere
        /// Worker: a plain step it maps: it runs the step in-line, nothing is sent.
        case runHere
        /// Subject: a plain step, to the workers.
        case workers
        /// Service: a plain or `@PUBLISH` step, to the Subject, which routes it (§6.2 rules 5, 6).
        case subject
        /// The next step would have to cross a hop under a header that first-matches an earlier
        /// step (``Flow/shadowingStep(of:)``): the flow would re-enter there and loop, so the
        /// role ends it with a ``ErrorKind/flowLoop`` error. (Flows where this always happens
        /// are refused at load; this is the second line of defence for the rest.)
        case wouldLoop
    }

    /// The step a flow goes on with and how it gets there.
    struct Next: Sendable, Equatable {
        let position: FlowPosition
        let hop: Hop
    }

    private struct Entry: Sendable {
        var arrival: Arrival
        /// nil for a `??done` step: nothing comes after it.
        var next: Next?
    }

    let role: Role
    let routing: RoutingTable
    /// `entries[firstEntry[flow] + step]`: one flat table for all flows (no nested arrays, so a
    /// lookup retains nothing).
    private let entries: [Entry]
    private let firstEntry: [Int]
    /// Every step's header prefix, one after the other in one buffer this router owns;
    /// `prefixRanges[index(position)]` says where. Handing out a pointer retains nothing,
    /// where copying a ``HeaderPrefix`` out of an array retained and released it per message.
    // nonisolated(unsafe): written once in init, read-only afterwards, freed in deinit.
    nonisolated(unsafe) private let prefixStorage: UnsafeMutableRawPointer
    private let prefixRanges: [Range<Int>]

    /// - Parameter executes: whether this role has a handler for the step (ignored for the
    ///   Subject, which executes none).
    init(routing: RoutingTable, role: Role, executes: (FlowPosition) -> Bool) {
        self.role = role
        self.routing = routing
        var entries: [Entry] = []
        var firstEntry: [Int] = []
        var prefixes: [HeaderPrefix] = []
        for (f, flow) in routing.flows.flows.enumerated() {
            firstEntry.append(entries.count)
            for s in flow.steps.indices {
                let here = FlowPosition(flow: f, step: s)
                let next = s + 1 < flow.steps.count ? FlowPosition(flow: f, step: s + 1) : nil
                let mapsHere = role != .subject && executes(here)
                let nextStep = next.map { next -> Next in
                    var hop = Self.hop(to: routing.kind(next), mapped: role != .subject && executes(next), role: role)
                    if hop != .runHere && hop != .result && flow.shadowingStep(of: next.step) != nil { hop = .wouldLoop }
                    return Next(position: next, hop: hop)
                }
                entries.append(Entry(
                    arrival: Self.arrival(kind: routing.kind(here), mapped: mapsHere, role: role), next: nextStep))
                prefixes.append(routing.prefix(here))
            }
        }
        self.entries = entries
        self.firstEntry = firstEntry
        var ranges: [Range<Int>] = []
        var offset = 0
        for prefix in prefixes {
            ranges.append(offset..<offset + prefix.bytes.count)
            offset += prefix.bytes.count
        }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(offset, 1), alignment: 8)
        for (prefix, range) in zip(prefixes, ranges) {
            prefix.bytes.withUnsafeBytes { (storage + range.lowerBound).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        prefixStorage = storage
        prefixRanges = ranges
    }

    deinit { prefixStorage.deallocate() }

    /// What this role does with a received message at `position`.
    @inline(__always)
    func arrival(at position: FlowPosition) -> Arrival { entries[index(position)].arrival }

    /// Where the flow goes after the step at `position`; nil after `??done`.
    @inline(__always)
    func next(after position: FlowPosition) -> Next? { entries[index(position)].next }

    /// The header prefix (the step's five fields) to send a message at `position` under: bytes
    /// owned by this router, valid while it lives (a role keeps its router for its life).
    @inline(__always)
    func prefix(_ position: FlowPosition) -> UnsafeRawBufferPointer {
        let range = prefixRanges[index(position)]
        return UnsafeRawBufferPointer(start: prefixStorage + range.lowerBound, count: range.count)
    }

    /// Whether the step at `position` is `@ASYNC`.
    func isAsync(_ position: FlowPosition) -> Bool { routing.kind(position) == .async }

    /// A flat index for `position`, for per-step tables a role keeps beside the router
    /// (its handlers).
    @inline(__always)
    func index(_ position: FlowPosition) -> Int { firstEntry[position.flow] + position.step }

    /// The number of flat indexes (every step of every flow).
    var stepCount: Int { entries.count }

    /// The error text for a ``Hop/wouldLoop`` to `position`.
    func loopText(_ position: FlowPosition) -> String {
        let flow = routing.flows.flows[position.flow]
        let earlier = flow.shadowingStep(of: position.step) ?? position.step
        return "step \(position.step) \(flow.steps[position.step].text) would be sent under a header that matches step"
            + " \(earlier) \(flow.steps[earlier].text) first: the flow would re-enter there and loop"
    }

    /// The step's text, for error messages.
    func stepText(_ position: FlowPosition) -> String { routing.flows.step(at: position).text }
    func flowName(_ position: FlowPosition) -> String { routing.flows.flows[position.flow].name }

    private static func arrival(kind: RoutingTable.StepKind, mapped: Bool, role: Role) -> Arrival {
        if kind == .done { return .endOfFlow }
        if mapped { return .execute }
        switch role {
        case .service: return .notMine
        case .worker, .subject: return kind == .async || kind == .publish ? .publish : .unmapped
        }
    }

    private static func hop(to kind: RoutingTable.StepKind, mapped: Bool, role: Role) -> Hop {
        switch (kind, role) {
        case (.done, _): .result
        case (.async, _): .park
        case (.publish, .subject): .publish
        case (.publish, .worker): mapped ? .publishAndRunHere : .publish
        case (.publish, .service), (.plain, .service): .subject
        case (.plain, .subject): .workers
        // Not mapped here: published for a service that maps it, as DigitalPy does.
        case (.plain, .worker): mapped ? .runHere : .publish
        }
    }
}
