import Logging
import ZeroMQ

/// The frames of the worker channel in reliable mode (docs/PROTOCOL.md, "Reliable dispatch").
///
/// Subject → worker: `[worker identity][seq: 8 bytes][the message's frames]` on a ROUTER (the
/// identity frame is the ROUTER's, the worker's DEALER never sees it). Worker → Subject:
/// `[receipt: seq + flags, 9 bytes][an output's frames]`, or the receipt alone. Control frames
/// start with a zero byte and are 2 bytes (`hello`, `heartbeat`) or 6 (`ready` + credit): the
/// sizes tell them apart from a seq (8) and a receipt (9).
enum WorkerChannel {
    enum Verb: UInt8 {
        /// `[\0 R][credit: UInt32 LE]` worker → Subject: "deal me this many steps".
        case ready = 0x52
        /// `[\0 Q]` Subject → worker: "I do not know you; say ready" (a reconnected worker).
        case hello = 0x51
        /// `[\0 H]` Subject → worker: a probe, ignored by the worker.
        case heartbeat = 0x48
    }

    static let seqSize = 8
    static let receiptSize = 9
    static let readySize = 6

    /// A receipt's flags byte.
    struct Receipt: OptionSet, Sendable {
        let rawValue: UInt8
        /// The worker is done with the step: the Subject's copy is released, one credit returns.
        static let final = Receipt(rawValue: 1)
        /// The output is for the Subject (a continuation or a park); else for the Integration Manager.
        static let toSubject = Receipt(rawValue: 2)
    }
}

/// The Subject's side of reliable dispatch: which worker holds which step, and the step's
/// frames until that worker is done with it.
///
/// Every step for the workers is moved into a *slot* (preallocated, two frames each) and
/// a reference-counted share of it is sent (no body copy), tagged with the slot's sequence
/// number: slot index and generation. The worker tags each output with that number; its
/// final output releases the slot and gives the worker one credit back. A worker gets steps
/// only while it has credit, so no worker holds more than ``DispatchOptions/credit``.
///
/// When a worker is found gone — a send or a heartbeat probe to it fails with
/// `EHOSTUNREACH` (ROUTER_MANDATORY), which happens at once when its process dies and after
/// ``DispatchOptions/heartbeatTimeout`` when it goes silent (ZMTP heartbeats) — every slot it
/// held goes back into the waiting line with a new generation, so an
/// output the lost worker still sends for it later is recognised as stale and dropped: a
/// service sees one result per step. A step lost ``DispatchOptions/maxAttempts`` times fails
/// with ``ErrorKind/workerLost``.
///
/// Owned by the Subject's thread; allocation-free per message in steady state.
final class ReliableDispatch {
    struct Peer {
        var identity: [UInt8]
        var credit: Int
        var alive: Bool
    }

    private struct Slot {
        var generation: UInt32 = 0
        /// The peer that holds the step, or -1 while it waits for one (or is free).
        var peer: Int32 = -1
        var attempts: Int32 = 0
        var frameCount: UInt8 = 0
        var inUse = false
        var size = 0
        var deadline = ContinuousClock.Instant.now
    }

    let options: DispatchOptions
    let capacity: Int
    let waitLimit: Duration
    let socket: Socket
    let statistics: CoreStatistics
    /// Two frames per slot, at `2 * slot` and `2 * slot + 1`.
    private let frames: UnsafeMutablePointer<Message>
    /// Unchecked exclusivity on the mutable state below: only the Subject's thread touches
    /// it, one call at a time, and the dynamic checks would cost on every message.
    @exclusivity(unchecked) private var slots: [Slot]
    @exclusivity(unchecked) private var free: [Int32]
    /// Slots waiting for a worker with credit, oldest first (a ring over `capacity`).
    @exclusivity(unchecked) private var waiting: [Int32]
    @exclusivity(unchecked) private var waitingHead = 0
    @exclusivity(unchecked) private(set) var waitingCount = 0
    @exclusivity(unchecked) private(set) var peers: [Peer] = []
    @exclusivity(unchecked) private var nextPeer = 0
    @exclusivity(unchecked) private var carrier = Message()
    /// Bytes the held steps may take before the Subject stops reading new work
    /// (``RoleLimits/heldBytes``); a worker's continuation is still taken past it.
    let byteBudget: Int
    @exclusivity(unchecked) private(set) var bytes = 0

    /// Worker registrations and losses (cold paths).
    let logger: Logger

    init(socket: Socket, options: DispatchOptions, capacity: Int, byteBudget: Int = .max, waitLimit: Duration,
         statistics: CoreStatistics, logger: Logger = Logger(label: "zmanager")) {
        precondition(capacity > 0 && capacity < Int(Int32.max))
        self.logger = logger
        self.byteBudget = byteBudget
        self.socket = socket
        self.options = options
        self.capacity = capacity
        self.waitLimit = waitLimit
        self.statistics = statistics
        frames = .allocate(capacity: 2 * capacity)
        for i in 0..<(2 * capacity) { (frames + i).initialize(to: Message()) }
        slots = Array(repeating: Slot(), count: capacity)
        free = (0..<Int32(capacity)).reversed()
        waiting = Array(repeating: -1, count: capacity)
        peers.reserveCapacity(16)
    }

    deinit {
        frames.deinitialize(count: 2 * capacity)
        frames.deallocate()
    }

    /// No slot is free, or the held steps take the byte budget: the Subject stops reading new
    /// work until that changes.
    var isFull: Bool { free.isEmpty || bytes >= byteBudget }
    var hasWaiting: Bool { waitingCount > 0 }
    var earliestDeadline: ContinuousClock.Instant? {
        waitingCount == 0 ? nil : slots[Int(waiting[waitingHead])].deadline
    }
    var livePeers: Int { peers.reduce(0) { $0 + ($1.alive ? 1 : 0) } }

    // MARK: Taking steps

    /// Takes a one-frame step (leaving `frame` empty) and deals it. False when no slot is free.
    func admit(_ frame: inout Message) throws(ZMQError) -> Bool {
        guard let slot = free.popLast().map(Int.init) else { return false }
        slots[slot].size = frame.count
        frames[2 * slot].move(from: &frame)
        start(slot, frameCount: 1)
        try deal(slot)
        return true
    }

    /// Takes a two-frame step (leaving both empty) and deals it. False when no slot is free.
    func admit(_ head: inout Message, _ body: inout Message) throws(ZMQError) -> Bool {
        guard let slot = free.popLast().map(Int.init) else { return false }
        slots[slot].size = head.count + body.count
        frames[2 * slot].move(from: &head)
        frames[2 * slot + 1].move(from: &body)
        start(slot, frameCount: 2)
        try deal(slot)
        return true
    }

    private func start(_ slot: Int, frameCount: UInt8) {
        bytes += slots[slot].size
        slots[slot].inUse = true
        slots[slot].generation &+= 1
        slots[slot].attempts = 0
        slots[slot].peer = -1
        slots[slot].frameCount = frameCount
    }

    /// Sends the slot to a worker with credit, or, behind any that wait already, puts it in line.
    private func deal(_ slot: Int) throws(ZMQError) {
        if waitingCount == 0, try send(slot) { return }
        enqueue(slot)
    }

    private func enqueue(_ slot: Int) {
        slots[slot].peer = -1
        slots[slot].deadline = .now + waitLimit
        waiting[(waitingHead + waitingCount) % capacity] = Int32(slot)
        waitingCount += 1
        statistics.waitingForWorkers.wrappingAdd(1, ordering: .relaxed)
    }

    /// Deals waiting steps, oldest first, while workers have credit.
    func pump() throws(ZMQError) {
        while waitingCount > 0 {
            let slot = Int(waiting[waitingHead])
            guard try send(slot) else { return }
            popWaiting()
        }
    }

    private func popWaiting() {
        waitingHead = (waitingHead + 1) % capacity
        waitingCount -= 1
        statistics.waitingForWorkers.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Sends a share of the slot's frames to the next live worker with credit (round-robin).
    /// False when no worker has credit.
    private func send(_ slot: Int) throws(ZMQError) -> Bool {
        let count = peers.count
        var tried = 0
        while tried < count {
            let p = (nextPeer + tried) % count
            tried += 1
            guard peers[p].alive, peers[p].credit > 0 else { continue }
            switch try sendFrames(slot, to: p) {
            case .sent:
                slots[slot].peer = Int32(p)
                peers[p].credit -= 1
                nextPeer = (p + 1) % count
                return true
            case .full:
                peers[p].credit = 0  // its pipe says what credit did not: wait for its receipts
            case .gone:
                try lost(peer: p)
            }
        }
        return false
    }

    private enum Delivery { case sent, full, gone }

    private func sendFrames(_ slot: Int, to p: Int) throws(ZMQError) -> Delivery {
        carrier.reset(size: peers[p].identity.count)
        carrier.withUnsafeMutableBytes { out in peers[p].identity.withUnsafeBytes { out.copyMemory(from: $0) } }
        do {
            guard try socket.send(&carrier, more: true, dontWait: true) == .sent else { return .full }
        } catch where error.code == .hostUnreachable {
            return .gone
        }
        // The rest of a message always follows its first frame (ROUTER routes by the first).
        let seq = UInt64(slots[slot].generation) << 32 | UInt64(slot)
        carrier.reset(size: WorkerChannel.seqSize)
        carrier.withUnsafeMutableBytes { $0.storeBytes(of: seq.littleEndian, as: UInt64.self) }
        _ = try socket.send(&carrier, more: true)
        let two = slots[slot].frameCount == 2
        carrier.share(from: frames[2 * slot])
        _ = try socket.send(&carrier, more: two)
        if two {
            carrier.share(from: frames[2 * slot + 1])
            _ = try socket.send(&carrier)
        }
        return .sent
    }

    // MARK: What workers send back

    /// A receipt for `seq`: whether it is the step's current dealing (its output is to be
    /// carried on); a final one releases the slot and gives the worker its credit back.
    func receipt(_ seq: UInt64, final: Bool) -> Bool {
        let slot = Int(seq & 0xFFFF_FFFF)
        guard slot < capacity, slots[slot].inUse, slots[slot].peer >= 0,
              slots[slot].generation == UInt32(truncatingIfNeeded: seq >> 32)
        else { return false }
        if final {
            let p = Int(slots[slot].peer)
            if peers[p].alive { peers[p].credit += 1 }
            release(slot)
        }
        return true
    }

    private func release(_ slot: Int) {
        bytes -= slots[slot].size
        slots[slot].size = 0
        slots[slot].inUse = false
        slots[slot].peer = -1
        frames[2 * slot].reset()
        frames[2 * slot + 1].reset()
        free.append(Int32(slot))
    }

    /// Whether `identity` is a live worker's.
    func knows(_ identity: UnsafeRawBufferPointer) -> Bool {
        peers.contains { $0.alive && $0.identity.withUnsafeBytes { $0.elementsEqual(identity) } }
    }

    /// A worker said `ready`: it holds nothing and wants `credit` steps. A worker known
    /// already lost what it held (it restarted its socket), which is dealt again.
    func register(_ identity: UnsafeRawBufferPointer, credit: Int) throws(ZMQError) {
        if let known = peers.firstIndex(where: { $0.alive && $0.identity.withUnsafeBytes { $0.elementsEqual(identity) } }) {
            try lost(peer: known)
        }
        let peer = Peer(identity: Array(identity), credit: max(1, credit), alive: true)
        statistics.workersConnected.wrappingAdd(1, ordering: .relaxed)
        logger.info("worker registered", metadata: ["worker": .string(Self.describe(peer.identity)), "credit": "\(peer.credit)"])
        if let reuse = peers.firstIndex(where: { !$0.alive }) {
            peers[reuse] = peer
        } else {
            peers.append(peer)
        }
        try pump()
    }

    /// Probes every live worker (a heartbeat frame, ignored by the worker): one that is gone
    /// loses its steps to the others.
    func probe() throws(ZMQError) {
        for p in peers.indices where peers[p].alive {
            carrier.reset(size: peers[p].identity.count)
            carrier.withUnsafeMutableBytes { out in peers[p].identity.withUnsafeBytes { out.copyMemory(from: $0) } }
            do {
                guard try socket.send(&carrier, more: true, dontWait: true) == .sent else { continue }
            } catch where error.code == .hostUnreachable {
                try lost(peer: p)
                continue
            }
            carrier.reset(size: 2)
            carrier.withUnsafeMutableBytes { $0[0] = 0; $0[1] = WorkerChannel.Verb.heartbeat.rawValue }
            _ = try socket.send(&carrier)
        }
    }

    /// Asks a worker the Subject does not know to say `ready`.
    func hello(_ identity: UnsafeRawBufferPointer) throws(ZMQError) {
        carrier.reset(size: identity.count)
        carrier.withUnsafeMutableBytes { $0.copyMemory(from: identity) }
        do {
            guard try socket.send(&carrier, more: true, dontWait: true) == .sent else { return }
        } catch where error.code == .hostUnreachable {
            return
        }
        carrier.reset(size: 2)
        carrier.withUnsafeMutableBytes { $0[0] = 0; $0[1] = WorkerChannel.Verb.hello.rawValue }
        _ = try socket.send(&carrier)
    }

    /// Called for each step that failed ``DispatchOptions/maxAttempts`` times, with its first
    /// frame (a whole header) and frame count, before the slot is released.
    var onLost: (UnsafeRawBufferPointer, Int) -> Void = { _, _ in }

    /// The worker is gone: its steps go to the others (new generation, so its late outputs are
    /// stale), or fail when they were lost too often.
    private func lost(peer p: Int) throws(ZMQError) {
        peers[p].alive = false
        peers[p].credit = 0
        statistics.workersLost.wrappingAdd(1, ordering: .relaxed)
        statistics.workersConnected.wrappingSubtract(1, ordering: .relaxed)
        var dealtAgain = 0, failed = 0
        for slot in slots.indices where slots[slot].inUse && slots[slot].peer == Int32(p) {
            slots[slot].attempts += 1
            slots[slot].generation &+= 1
            if Int(slots[slot].attempts) >= options.maxAttempts {
                frames[2 * slot].withUnsafeBytes { onLost($0, Int(slots[slot].frameCount)) }
                release(slot)
                failed += 1
            } else {
                statistics.redelivered.wrappingAdd(1, ordering: .relaxed)
                enqueue(slot)
                dealtAgain += 1
            }
        }
        logger.warning("worker lost", metadata: ["worker": .string(Self.describe(peers[p].identity)),
                                                 "steps_dealt_again": "\(dealtAgain)", "steps_failed": "\(failed)"])
    }

    /// Fails every waiting step whose deadline has passed (no worker took it in time).
    func expire(now: ContinuousClock.Instant, _ expired: (UnsafeRawBufferPointer, Int) -> Void) {
        while waitingCount > 0 {
            let slot = Int(waiting[waitingHead])
            guard slots[slot].deadline <= now else { return }
            popWaiting()
            frames[2 * slot].withUnsafeBytes { expired($0, Int(slots[slot].frameCount)) }
            release(slot)
        }
    }
}

extension ReliableDispatch {
    /// A ROUTER identity for a log line: printable as it is, otherwise in hex (libzmq's own
    /// identities are five bytes starting with 0).
    static func describe(_ identity: [UInt8]) -> String {
        if !identity.isEmpty, identity.allSatisfy({ $0 >= 0x21 && $0 < 0x7f }) { return String(decoding: identity, as: UTF8.self) }
        return identity.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}
