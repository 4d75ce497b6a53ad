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
        let decorator: [UInt8]
        let source: [UInt8]
        let context: [UInt8]
        let action: [UInt8]
    }

    /// Flow name bytes, by flow index.
    private let names: [[UInt8]]
    /// FNV-1a hash of a name → the flows with that hash (one, barring a collision).
    private let byHash: [UInt64: [Int]]
    /// Step fields, by flow index then step index.
    private let steps: [[StepBytes]]

    init(_ flows: [Flow]) {
        names = flows.map { Array($0.name.utf8) }
        var byHash: [UInt64: [Int]] = [:]
        for (index, name) in names.enumerated() {
            name.withUnsafeBytes { byHash[Self.hash($0), default: []].append(index) }
        }
        self.byHash = byHash
        steps = flows.map { flow in
            flow.steps.map {
                StepBytes(
                    decorator: Array($0.decorator.utf8), source: Array($0.source.utf8),
                    context: Array($0.context.utf8), action: Array($0.action.utf8))
            }
        }
    }

    func flowIndex(utf8 name: UnsafeRawBufferPointer) -> Int? {
        guard let candidates = byHash[Self.hash(name)] else { return nil }
        for index in candidates where names[index].elementsEqual(name) {
            return index
        }
        return nil
    }

    func stepIndex(flow: Int, fields: HeaderFields, in frame: UnsafeRawBufferPointer) -> Int? {
        let action = fields.bytes(.action, in: frame)
        let context = fields.bytes(.context, in: frame)
        let decorator = fields.bytes(.decorator, in: frame)
        let source = fields.bytes(.source, in: frame)
        for (index, step) in steps[flow].enumerated()
        where Self.fieldMatches(step.action, action) && Self.fieldMatches(step.context, context)
            && Self.fieldMatches(step.decorator, decorator) && Self.fieldMatches(step.source, source)
        {
            return index
        }
        return nil
    }

    /// ``ActionKey/matches(_:)``'s rule for one field: equal, or either side empty.
    @inline(__always)
    private static func fieldMatches(_ step: [UInt8], _ header: UnsafeRawBufferPointer) -> Bool {
        step.isEmpty || header.isEmpty || step.elementsEqual(header)
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
