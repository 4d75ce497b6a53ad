import ZeroMQ

/// ASYNC answers that arrived before their flow was parked, held for a short while.
///
/// A worker's park and an external party's answer reach the Subject through different pipes,
/// in no guaranteed order: a party that learnt of the request from a PUBLISH step before the
/// ASYNC one can answer before the park arrives. Without this table the answer got an
/// `async_unknown` NOTICE and the flow, parked a moment later, timed out. Now the answer waits
/// here up to ``AsyncOptions/earlyAnswerWindow``; the park that comes for its id takes it and
/// the flow goes on at once. An answer nobody parks for gets its `async_unknown` NOTICE when
/// the window ends.
///
/// Bounded: ``AsyncOptions/earlyAnswerCapacity`` answers, each in two preallocated frames
/// (moved in and out, no copy); past that an answer gets its NOTICE at once. The window is the
/// same for every answer, so deadlines grow in arrival order and expiry looks at the front only.
/// Owned by the Subject's thread.
struct EarlyAnswers: ~Copyable {
    enum Kind {
        /// The ASYNC step's own header, for the step at `position`.
        case stepHeader(FlowPosition)
        /// DigitalPy's `completed_command~~~~done~<id>~`: only the id counts.
        case completedCommand
    }

    struct Answer {
        let id: String
        let kind: Kind
        let form: WireForm
        let deadline: ContinuousClock.Instant
    }

    let capacity: Int
    let window: Duration
    /// Two frames per slot, at `2 * slot` and `2 * slot + 1`.
    private let frames: UnsafeMutablePointer<Message>
    private var answers: [Answer?]
    private var slotOfID: [String: Int] = [:]
    /// Slots in arrival order (a ring); a slot taken by its park is nil in `answers` and skipped.
    private var order: [Int]
    private var front = 0
    private var queued = 0
    private var free: [Int]

    init(capacity: Int, window: Duration) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.window = window
        frames = .allocate(capacity: 2 * capacity)
        for i in 0..<(2 * capacity) { (frames + i).initialize(to: Message()) }
        answers = Array(repeating: nil, count: capacity)
        order = Array(repeating: 0, count: capacity)
        free = Array((0..<capacity).reversed())
    }

    deinit {
        frames.deinitialize(count: 2 * capacity)
        frames.deallocate()
    }

    var count: Int { slotOfID.count }
    /// Whether anything is queued for expiry (held answers, or slots of taken ones to free).
    var needsExpiry: Bool { queued > 0 }

    func isHeld(id: String) -> Bool { slotOfID[id] != nil }

    /// After a reload of the flows: each held step header's position moved by `move`. One with
    /// nowhere to go matches no park any more and gets its NOTICE when its window ends.
    mutating func remap(_ move: (FlowPosition) -> FlowPosition?) {
        for slot in answers.indices {
            guard let answer = answers[slot], case .stepHeader(let position) = answer.kind else { continue }
            let moved = move(position) ?? FlowPosition(flow: -1, step: -1)
            answers[slot] = Answer(id: answer.id, kind: .stepHeader(moved), form: answer.form, deadline: answer.deadline)
        }
    }

    /// Whether an answer held for `id` continues a flow parked at `position`: a step header for
    /// that very step, or a `completed_command` (which names no step). One for another step
    /// stays held and gets its NOTICE when its window ends, as it would had the park come first.
    func answers(id: String, at position: FlowPosition) -> Bool {
        guard let slot = slotOfID[id], let answer = answers[slot] else { return false }
        switch answer.kind {
        case .stepHeader(let step): return step == position
        case .completedCommand: return true
        }
    }

    /// Holds the answer, moving its frames out of `head` and `body` (`body` only in split form).
    /// False, taking nothing, when full or when an answer with this id is held already.
    mutating func hold(id: String, kind: Kind, form: WireForm, head: inout Message, body: inout Message,
                       now: ContinuousClock.Instant) -> Bool {
        guard slotOfID[id] == nil, queued < capacity, let slot = free.popLast() else { return false }
        frames[2 * slot].move(from: &head)
        if form == .split { frames[2 * slot + 1].move(from: &body) }
        answers[slot] = Answer(id: id, kind: kind, form: form, deadline: now + window)
        slotOfID[id] = slot
        order[(front + queued) % capacity] = slot
        queued += 1
        return true
    }

    /// Takes the answer held for `id`, moving its frames into `head` and `body`.
    mutating func take(id: String, head: inout Message, body: inout Message) -> Answer? {
        guard let slot = slotOfID.removeValue(forKey: id), let answer = answers[slot] else { return nil }
        head.move(from: &frames[2 * slot])
        // A single-form answer leaves no body behind: `Inbound` resets its body only after a
        // split-form message.
        if answer.form == .split { body.move(from: &frames[2 * slot + 1]) } else { body.reset() }
        answers[slot] = nil
        // The slot stays in `order` until it reaches the front; it is freed there.
        return answer
    }

    /// Removes the answers whose window has passed, oldest first, calling `expired` with each
    /// before its frames are released; frees the slots of answers taken meanwhile.
    mutating func expire(now: ContinuousClock.Instant, _ expired: (Answer) -> Void) {
        while queued > 0 {
            let slot = order[front]
            if let answer = answers[slot] {
                guard answer.deadline <= now else { return }
                slotOfID.removeValue(forKey: answer.id)
                answers[slot] = nil
                expired(answer)
            }
            frames[2 * slot].reset()
            frames[2 * slot + 1].reset()
            free.append(slot)
            front = (front + 1) % capacity
            queued -= 1
        }
    }
}
