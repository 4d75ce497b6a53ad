/// Flow and step lookup straight from a received header's bytes, without building `String`s.
///
/// A worker or the Subject has the header as bytes (``HeaderFields``). Looking the flow up by
/// `String` would mean decoding the config field first, and a Swift `String` longer than 15
/// UTF-8 bytes (`ServiceManagement_GetServiceTopics` is 34) is a heap allocation per message.
/// This index keeps every flow name and step field as bytes, finds the flow through a hash of
/// the name's bytes, and runs the same first-match rule as ``Flow/stepIndex(of:)`` on bytes.
struct FlowByteIndex: Sendable {
    /// A step's matched fields as UTF-8 bytes.
    private struct StepBytes: Sendable {
        let decorator: StaticBytes
        let source: StaticBytes
        let context: StaticBytes
        let action: StaticBytes
    }

    /// Flow name bytes, by flow index.
    private let names: [StaticBytes]
    /// Open-addressing hash table over the names' FNV-1a hashes: slot → flow index + 1
    /// (0 = empty), probed linearly. A `Dictionary<UInt64, _>` hashed its key once more
    /// with SipHash on every lookup (measured: 90 instructions per message).
    private let slots: [Int32]
    private let slotMask: Int
    /// Step fields, by flow index then step index.
    private let steps: [[StepBytes]]

    init(_ flows: [Flow]) {
        names = flows.map { StaticBytes($0.name) }
        var size = 8
        while size < flows.count * 2 { size <<= 1 }
        var slots = [Int32](repeating: 0, count: size)
        for (index, name) in names.enumerated() {
            var slot = name.bytes.withUnsafeBytes { Int(truncatingIfNeeded: Self.hash($0)) } & (size - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = Int32(index + 1)
        }
        self.slots = slots
        slotMask = size - 1
        steps = flows.map { flow in
            flow.steps.map {
                StepBytes(
                    decorator: StaticBytes($0.decorator), source: StaticBytes($0.source),
                    context: StaticBytes($0.context), action: StaticBytes($0.action))
            }
        }
    }

    func flowIndex(utf8 name: UnsafeRawBufferPointer) -> Int? {
        var slot = Int(truncatingIfNeeded: Self.hash(name)) & slotMask
        while true {
            let entry = Int(slots[slot])
            if entry == 0 { return nil }
            if names[entry - 1].equals(name) { return entry - 1 }
            slot = (slot + 1) & slotMask
        }
    }

    func stepIndex(flow: Int, fields: HeaderFields, in frame: UnsafeRawBufferPointer) -> Int? {
        let action = fields.bytes(.action, in: frame)
        let context = fields.bytes(.context, in: frame)
        let decorator = fields.bytes(.decorator, in: frame)
        let source = fields.bytes(.source, in: frame)
        let flowSteps = steps[flow]
        for index in flowSteps.indices {
            let step = flowSteps[index]
            if Self.fieldMatches(step.action, action) && Self.fieldMatches(step.context, context)
                && Self.fieldMatches(step.decorator, decorator) && Self.fieldMatches(step.source, source)
            {
                return index
            }
        }
        return nil
    }

    /// ``ActionKey/matches(_:)``'s rule for one field: equal, or either side empty.
    @inline(__always)
    private static func fieldMatches(_ step: StaticBytes, _ header: UnsafeRawBufferPointer) -> Bool {
        step.bytes.isEmpty || header.isEmpty || step.equals(header)
    }

    /// 64-bit FNV-1a: tiny, allocation-free, and plenty for a few hundred flow names (collisions
    /// are handled by the byte comparison anyway).
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }
}

/// A position in a ``FlowTable``: which flow, which step of it. Two integers, so the runtime can
/// carry it around and index arrays with it instead of re-matching strings.
public struct FlowPosition: Hashable, Sendable, CustomStringConvertible {
    /// Index into ``FlowTable/flows``.
    public let flow: Int
    /// Index into that flow's ``Flow/steps``.
    public let step: Int

    public init(flow: Int, step: Int) {
        self.flow = flow
        self.step = step
    }

    public var description: String { "flow #\(flow) step #\(step)" }
}

extension FlowTable {
    /// The index of the flow whose name is exactly these UTF-8 bytes (e.g. a header's config
    /// field). Does not allocate.
    public func flowIndex(utf8 name: UnsafeRawBufferPointer) -> Int? {
        byteIndex.flowIndex(utf8: name)
    }

    /// ``stepIndex(of:)`` straight from a parsed header: the flow named by the config field and
    /// its first step that wildcard-matches the header's decorator, source, context and action.
    /// `nil` for an unknown flow or no matching step. Does not allocate.
    public func position(ofHeader fields: HeaderFields, in frame: UnsafeRawBufferPointer) -> FlowPosition? {
        guard let flow = byteIndex.flowIndex(utf8: fields.bytes(.config, in: frame)),
            let step = byteIndex.stepIndex(flow: flow, fields: fields, in: frame)
        else { return nil }
        return FlowPosition(flow: flow, step: step)
    }

    /// The step at a position (the positions come from this table).
    public func step(at position: FlowPosition) -> ActionKey {
        flows[position.flow].steps[position.step]
    }

    /// The position of the following step, `nil` when `position` is its flow's last step.
    public func position(after position: FlowPosition) -> FlowPosition? {
        position.step + 1 < flows[position.flow].steps.count
            ? FlowPosition(flow: position.flow, step: position.step + 1) : nil
    }
}
