/// The decorator strings DigitalPy gives a meaning to.
///
/// Decorators stay plain `String`s inside ``ActionKey`` because the wire header carries any
/// decorator text and an unknown one must survive a round trip unchanged; these constants only
/// spare callers from retyping (and mistyping) the known ones. Comparisons are case-sensitive,
/// exactly as in the reference (`@publish` is *not* `@PUBLISH` there either).
public enum Decorator {
    /// The step is delivered through the Integration Manager (published) instead of a worker:
    /// the Subject bypasses the workers, and the service subscribed to that step executes it.
    public static let publish = "PUBLISH"
    /// The next step is started by an external party later (a `completed_command` continuation);
    /// the flow engine stops after this step and waits.
    public static let async = "ASYNC"
    /// Marks Integration Manager → worker control messages (`UPDATE_ROUTING_WORKERS~ROUTING_WORKER`).
    public static let routingWorker = "ROUTING_WORKER"
}
