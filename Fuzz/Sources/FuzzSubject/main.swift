import FuzzSupport

/// The Subject under test, started on the first input. libFuzzer calls the entry point from one
/// thread, one input at a time, so this shared state is never touched concurrently.
nonisolated(unsafe) var harness: RoleHarness?

/// libFuzzer's entry point: the input is what the Subject reads at its front. Not every input gets
/// an output at once (a park is held, an early ASYNC answer waits for its park), so the check is
/// that the Subject keeps answering, sends only ZManager messages, and stays within its bounds
/// (libFuzzer's RSS limit).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSubject(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    if harness == nil { harness = FuzzTopology.subject() }
    _ = harness!.run(FuzzFrames.split(UnsafeRawBufferPointer(start: data, count: count)))
    return 0
}
