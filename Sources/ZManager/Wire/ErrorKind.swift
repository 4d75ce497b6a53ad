/// Why the core could not carry a message on, as published in an error message's action
/// field (`zmanager_error~ERROR~<role>~<flow>~<kind>~<id>~<text>`). Never a silent drop.
public enum ErrorKind: String, Sendable, CaseIterable {
    /// The message is not a ZManager message: too few `~` fields, bad framing, a split
    /// header frame with bytes after its sixth `~`, too many frames; or its body is not a
    /// pickle the core accepts and a handler asked for its values (``PickleBodyError``).
    case undecodable
    /// The frame is larger than the role's configured maximum.
    case oversized
    /// The config field names no flow this core knows.
    case unknownFlow = "unknown_flow"
    /// The flow is known but no step matches the message's key.
    case unknownStep = "unknown_step"
    /// The step has no handler in the worker's action mapping.
    case unmappedAction = "unmapped_action"
    /// The next step would be sent under a header that first-matches an earlier step of its
    /// flow, so the flow would re-enter there and loop (``Flow/shadowingStep(of:)``).
    case flowLoop = "flow_loop"
    /// The handler threw; the error text is the body.
    case handlerFailed = "handler_failed"
    /// No worker took the step within ``RoleLimits/dispatchTimeout`` (none connected, or all
    /// busy for that long), or too many steps were waiting for one already.
    case noWorkers = "no_workers"
    /// Reliable dispatch: the step was dealt to ``DispatchOptions/maxAttempts`` workers and
    /// each was lost before finishing it (a step that crashes its worker stops here).
    case workerLost = "worker_lost"
    /// The node is draining (stopping): a `Push` that reached the Subject after it closed its
    /// intake starts no flow. Flows started before are finished.
    case draining
    /// A parked (ASYNC) flow got no response within the configured timeout.
    case asyncTimeout = "async_timeout"
    /// A response arrived for a flow that is not parked (expired, answered twice, never parked).
    case asyncUnknown = "async_unknown"
    /// Too many flows are parked; this one could not pause.
    case asyncCapacity = "async_capacity"
    /// The Integration Manager had a step for a service (a `@PUBLISH` step, or one no worker
    /// maps) and nobody subscribes to its header: published, it would reach no one and the flow
    /// would never end. Published copies (the worker runs the step too) are exempt.
    case noSubscriber = "no_subscriber"
    /// A subscriber of the message's topic was at its high-water mark, so the Integration
    /// Manager could not publish it to anyone (`ZMQ_XPUB_NODROP`); it is dropped and counted
    /// (``CoreStatistics/publishDropped``). A dropped step ends its flow.
    case subscriberFull = "subscriber_full"
    /// The flow did not end within ``RoleLimits/flowTimeout`` of its start: the Integration
    /// Manager ends it, and drops its result or error should one come later.
    case flowTimeout = "flow_timeout"

    /// Whether the error ends the message's flow. Every kind does except
    /// ``asyncUnknown``: that flow already ended (expired or answered) or never existed.
    /// Published as the decorator: `ERROR` ends a flow, `NOTICE` does not.
    public var endsFlow: Bool { self != .asyncUnknown }

    var decorator: String { endsFlow ? Topics.errorDecorator : Topics.noticeDecorator }
}

extension ErrorKind {
    /// The kind of error a handler's thrown `failure` is reported as: a body the handler
    /// could not decode is the sender's fault (``undecodable``), anything else the handler's
    /// (``handlerFailed``).
    init(handlerFailure failure: any Error) {
        self = failure is PickleBodyError ? .undecodable : .handlerFailed
    }
}
