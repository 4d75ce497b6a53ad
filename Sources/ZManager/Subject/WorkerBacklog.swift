import ZeroMQ

/// Messages for the workers that no worker could take yet, oldest first, each with a deadline.
///
/// The Subject sends to its workers without blocking: a bound PUSH with no peer (no worker
/// connected yet, all dead) or only full pipes would otherwise block `zmq_send`, and with it
/// every PUBLISH flow, PONG, park, ASYNC expiry and continuation the Subject serves. A message
/// that cannot go out waits here until a worker can take it, or until its deadline, when it
/// gets a ``ErrorKind/noWorkers`` error. Nothing is dropped silently.
///
/// The frames are moved in and out (no copy); the storage is allocated once, so holding and
/// flushing messages allocates nothing. Owned by the Subject's thread.
struct WorkerBacklog: ~Copyable {
    /// A message waiting: one frame (single form, a control-free step) or two (split form).
    struct Entry {
        let deadline: ContinuousClock.Instant
        let frameCount: Int
        let size: Int
    }

    let capacity: Int
    /// Bytes the held messages may take (``RoleLimits/heldBytes``): full at `capacity`
    /// messages or at this many bytes, whichever comes first.
    let byteBudget: Int
    private(set) var bytes = 0
    /// Two frames per entry, at `2 * slot` and `2 * slot + 1`.
    private let frames: UnsafeMutablePointer<Message>
    private var entries: [Entry?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int, byteBudget: Int = .max) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.byteBudget = byteBudget
        frames = .allocate(capacity: 2 * capacity)
        for i in 0..<(2 * capacity) { (frames + i).initialize(to: Message()) }
        entries = Array(repeating: nil, count: capacity)
    }

    deinit {
        frames.deinitialize(count: 2 * capacity)
        frames.deallocate()
    }

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == capacity || bytes >= byteBudget }

    /// The deadline of the oldest message, the first to expire (deadlines grow with arrival).
    var earliestDeadline: ContinuousClock.Instant? { isEmpty ? nil : entries[head]?.deadline }

    /// Takes a one-frame message (leaving `frame` empty). Returns false, taking nothing, when full.
    mutating func append(_ frame: inout Message, deadline: ContinuousClock.Instant) -> Bool {
        guard !isFull else { return false }
        let slot = (head + count) % capacity
        let size = frame.count
        frames[2 * slot].move(from: &frame)
        entries[slot] = Entry(deadline: deadline, frameCount: 1, size: size)
        bytes += size
        count += 1
        return true
    }

    /// Takes a two-frame message (leaving both empty). Returns false, taking nothing, when full.
    mutating func append(_ first: inout Message, _ second: inout Message, deadline: ContinuousClock.Instant) -> Bool {
        guard !isFull else { return false }
        let slot = (head + count) % capacity
        let size = first.count + second.count
        frames[2 * slot].move(from: &first)
        frames[2 * slot + 1].move(from: &second)
        entries[slot] = Entry(deadline: deadline, frameCount: 2, size: size)
        bytes += size
        count += 1
        return true
    }

    /// Sends the oldest messages to `socket` without blocking, until it would block or none
    /// is left. Returns how many went out.
    mutating func flush(to socket: Socket) throws(ZMQError) -> Int {
        var sent = 0
        while let entry = entries[head], count > 0 {
            let more = entry.frameCount == 2
            guard try socket.send(&frames[2 * head], more: more, dontWait: true) == .sent else { break }
            // A message's later frames always follow its first (libzmq checks the
            // high-water mark at message boundaries).
            if more { _ = try socket.send(&frames[2 * head + 1]) }
            removeHead()
            sent += 1
        }
        return sent
    }

    /// Removes every message whose deadline has passed, oldest first, calling `expired` with
    /// its first frame (a whole header) and its frame count before the frames are released.
    mutating func expire(now: ContinuousClock.Instant, _ expired: (UnsafeRawBufferPointer, Int) -> Void) {
        while let entry = entries[head], count > 0, entry.deadline <= now {
            frames[2 * head].withUnsafeBytes { expired($0, entry.frameCount) }
            frames[2 * head].reset()
            frames[2 * head + 1].reset()
            removeHead()
        }
    }

    private mutating func removeHead() {
        bytes -= entries[head]?.size ?? 0
        entries[head] = nil
        head = (head + 1) % capacity
        count -= 1
    }
}
