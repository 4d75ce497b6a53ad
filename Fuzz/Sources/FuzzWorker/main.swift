import FuzzSupport

/// The worker under test, started on the first input. libFuzzer calls the entry point from one
/// thread, one input at a time, so this shared state is never touched concurrently.
nonisolated(unsafe) var harness: RoleHarness?

/// libFuzzer's entry point: the input is what a worker reads from the Subject. Every input must
/// get at least one output (a result, a next step, a published step, a park or an error): a worker
/// never drops a message in silence.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorker(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    if harness == nil { harness = FuzzTopology.worker() }
    let frames = FuzzFrames.split(UnsafeRawBufferPointer(start: data, count: count))
    if harness!.run(frames) == 0 {
        fatalError("silent drop: an input of \(frames.count) frame(s) got no output")
    }
    return 0
}
