import Foundation
import Synchronization
import Testing
import ZeroMQ

/// Messages whose first 8 bytes are a sequence number (and whose rest tells the frame apart).
private func numbered(_ value: Int, frame: UInt8 = 0) -> Message {
    var message = Message(size: 9)
    message.withUnsafeMutableBytes {
        $0.storeBytes(of: value, as: Int.self)
        $0[8] = frame
    }
    return message
}

private func number(_ message: borrowing Message) -> (value: Int, frame: UInt8) {
    message.withUnsafeBytes { ($0.loadUnaligned(as: Int.self), $0[8]) }
}

/// A bounded wait for another thread's state (a bell being armed: the thread is about to sleep).
private func waitUntil(_ condition: () -> Bool) -> Bool {
    eventually(timeout: .seconds(10), condition)
}

/// What the consumer threads saw, shared by reference with each of them.
private final class Seen: Sendable {
    let values = Mutex<[Int]>([])
}

@Suite("In-process message rings")
struct RingTests {
    @Test func framesArriveInOrderAndAMultipartMessageWhole() {
        let ring = MessageRing(limit: 64)
        for i in 0..<40 {
            var first = numbered(i, frame: 0)
            var second = numbered(i, frame: 1)
            #expect(ring.write(&first, more: true) == .written)
            #expect(first.count == 0, "moved, not copied: the caller's message is empty")
            // Not published before its last frame.
            var probe = Message()
            #expect(ring.read(into: &probe) == .empty)
            #expect(ring.write(&second) == .written)
            #expect(ring.read(into: &probe) == .frame(more: true))
            #expect(number(probe) == (i, 0))
            #expect(ring.read(into: &probe) == .frame(more: false))
            #expect(number(probe) == (i, 1))
        }
        var probe = Message()
        #expect(ring.read(into: &probe) == .empty)
    }

    @Test func aFullRingRefusesANewMessageAndKeepsItForTheCaller() {
        let ring = MessageRing(limit: 8)
        for i in 0..<8 {
            var message = numbered(i)
            #expect(ring.write(&message) == .written)
        }
        var refused = numbered(99)
        #expect(ring.write(&refused) == .full)
        #expect(ring.isFull)
        #expect(number(refused).value == 99, "a refused message stays the caller's, intact")
        var taken = Message()
        #expect(ring.read(into: &taken) == .frame(more: false))
        #expect(number(taken).value == 0)
        #expect(!ring.isFull)
        #expect(ring.write(&refused) == .written)
        // A message that was started finishes above the limit (libzmq checks the first frame only).
        var head = numbered(100, frame: 0)
        var tail = numbered(100, frame: 1)
        var another = numbered(101)
        #expect(ring.write(&another) == .full)
        for _ in 0..<7 { #expect(ring.read(into: &taken) == .frame(more: false)) }
        #expect(ring.write(&head, more: true) == .written)
        for i in 0..<7 {
            var filler = numbered(200 + i)
            #expect(ring.write(&filler, more: true) == .written, "frames of a started message use the slack")
        }
        #expect(ring.write(&tail) == .written)
        var values: [Int] = []
        while case .frame = ring.read(into: &taken) { values.append(number(taken).value) }
        #expect(values == [99, 100] + (200..<207) + [100])
    }

    @Test func aClosedRingRefusesWritesAndDeliversWhatWasPublishedFirst() {
        let ring = MessageRing(limit: 16)
        for i in 0..<5 {
            var message = numbered(i)
            #expect(ring.write(&message) == .written)
        }
        ring.close()
        var late = numbered(5)
        #expect(ring.write(&late) == .closed)
        #expect(number(late).value == 5)
        var taken = Message()
        for i in 0..<5 {
            #expect(ring.read(into: &taken) == .frame(more: false))
            #expect(number(taken).value == i)
        }
        #expect(ring.read(into: &taken) == .closed)
    }

    @Test func framesLeftInARingAreFreedWithIt() {
        // Zero-copy bodies from a pool: each one is back in the pool only when libzmq frees it.
        let pool = BufferPool(sizeClasses: [.init(size: 4096, count: 16)], zeroCopyThreshold: 64)
        do {
            let ring = MessageRing(limit: 16)
            for i in 0..<10 {
                var message = pool.message(count: 2000) { $0.storeBytes(of: i, as: Int.self) }
                #expect(ring.write(&message, more: i == 9) == .written, "the last one unpublished, under way")
            }
            var taken = Message()
            #expect(ring.read(into: &taken) == .frame(more: false))
            taken.reset()
            #expect(pool.statistics.inUse == 9)
            ring.close()
        }
        #expect(pool.statistics.inUse == 0, "published, unread and unpublished frames all freed")
        #expect(pool.statistics.releases == 10)
    }

    @Test func aSleepingConsumerWakesWhenAMessageIsPublished() throws {
        let bell = Doorbell()
        let ring = MessageRing(limit: 16, consumerBell: bell)
        let got = Mutex<[Int]>([])
        let consumer = SocketThread.start(name: "ring-consumer") {
            let collector = MessageCollector(rings: [ring], bell: bell)
            var message = Message()
            for _ in 0..<3 {
                guard collector.receive(into: &message, timeout: .seconds(20)) == .frame(more: false) else { return }
                let value = number(message).value
                got.withLock { $0.append(value) }
            }
        }
        for i in 0..<3 {
            // The consumer is asleep on its bell before each message is published.
            #expect(waitUntil { bell.isArmed })
            var message = numbered(i)
            #expect(ring.write(&message) == .written)
            #expect(waitUntil { got.withLock { $0.count } == i + 1 })
        }
        #expect(consumer.join(timeout: .seconds(20)))
        #expect(got.withLock { $0 } == [0, 1, 2])
    }

    @Test func aBlockedProducerWakesWhenTheConsumerFreesSpace() throws {
        let bell = Doorbell()
        let ring = MessageRing(limit: 4, producerBell: bell)
        let sent = Atomic<Int>(0)
        let producer = SocketThread.start(name: "ring-producer") {
            let dispatcher = MessageDispatcher(rings: [ring], bell: bell)
            for i in 0..<6 {
                var message = numbered(i)
                guard dispatcher.send(&message, timeout: .seconds(20)) == .written else { return }
                sent.add(1, ordering: .relaxed)
            }
        }
        // Four fit; the fifth waits on the producer's bell.
        #expect(waitUntil { sent.load(ordering: .relaxed) == 4 && bell.isArmed })
        var taken = Message()
        #expect(ring.read(into: &taken) == .frame(more: false))
        #expect(waitUntil { sent.load(ordering: .relaxed) == 5 && bell.isArmed })
        #expect(ring.read(into: &taken) == .frame(more: false))
        #expect(producer.join(timeout: .seconds(20)))
        #expect(sent.load(ordering: .relaxed) == 6)
        var values: [Int] = []
        while case .frame = ring.read(into: &taken) { values.append(number(taken).value) }
        #expect(values == [2, 3, 4, 5])
    }

    @Test func timeoutsEndAWaitWithNothingLost() {
        let consumerBell = Doorbell()
        let producerBell = Doorbell()
        let ring = MessageRing(limit: 1, consumerBell: consumerBell, producerBell: producerBell)
        let collector = MessageCollector(rings: [ring], bell: consumerBell)
        let dispatcher = MessageDispatcher(rings: [ring], bell: producerBell)
        var message = Message()
        #expect(collector.receive(into: &message, timeout: .milliseconds(30)) == .empty)
        var first = numbered(1)
        #expect(dispatcher.send(&first, timeout: .milliseconds(30)) == .written)
        var second = numbered(2)
        #expect(dispatcher.send(&second, timeout: .milliseconds(30)) == .full)
        #expect(number(second).value == 2)
        #expect(collector.receive(into: &message, timeout: .milliseconds(30)) == .frame(more: false))
        #expect(number(message).value == 1)
        #expect(!consumerBell.isArmed && !producerBell.isArmed)
    }

    /// Four producers, one ring each, into one consumer: every message once, each producer's in
    /// its order, no multipart message interleaved with another, under backpressure (tiny limits).
    @Test func severalProducersIntoOneConsumerDeliverExactlyOnceInOrder() throws {
        let producers = 4, perProducer = 20_000
        let consumerBell = Doorbell()
        let rings = (0..<producers).map { _ in MessageRing(limit: 8, consumerBell: consumerBell) }
        var threads: [SocketThread] = []
        for (p, ring) in rings.enumerated() {
            threads.append(SocketThread.start(name: "ring-producer-\(p)") {
                let dispatcher = MessageDispatcher(rings: [ring], bell: ring.producerBell)
                for i in 0..<perProducer {
                    // Every third message has two frames.
                    let parts = i % 3 == 0 ? 2 : 1
                    for part in 0..<parts {
                        var message = numbered(p * 1_000_000 + i, frame: UInt8(part))
                        guard dispatcher.send(&message, more: part + 1 < parts, timeout: .seconds(30)) == .written else { return }
                    }
                }
            })
        }
        let collector = MessageCollector(rings: rings, bell: consumerBell)
        var nextOf = [Int](repeating: 0, count: producers)
        var message = Message()
        var problems: [String] = []
        var total = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while total < producers * perProducer, ContinuousClock.now < deadline {
            guard case .frame(let more) = collector.receive(into: &message, timeout: .seconds(10)) else { break }
            let (value, frame) = number(message)
            let (p, i) = value.quotientAndRemainder(dividingBy: 1_000_000)
            if frame != 0 || i != nextOf[p] { problems.append("producer \(p): got \(i) frame \(frame), expected \(nextOf[p])") }
            if i % 3 == 0 {
                guard more, case .frame(more: false) = collector.receive(into: &message, timeout: .seconds(10)),
                      number(message) == (value, 1) else {
                    problems.append("producer \(p) message \(i): second frame missing or interleaved")
                    break
                }
            } else if more {
                problems.append("producer \(p) message \(i): an unexpected second frame")
            }
            nextOf[p] = i + 1
            total += 1
            if problems.count > 5 { break }
        }
        for thread in threads { #expect(thread.join(timeout: .seconds(30))) }
        #expect(problems.isEmpty, "\(problems)")
        #expect(total == producers * perProducer)
        #expect(nextOf == [Int](repeating: perProducer, count: producers))
        #expect(collector.read(into: &message) == .empty)
    }

    /// One producer dealing to three consumers, one ring each: every message delivered to exactly
    /// one consumer, none lost or duplicated; a closed dispatcher ends every consumer.
    @Test func oneProducerDealsToSeveralConsumersExactlyOnce() throws {
        let consumers = 3, count = 60_000
        let producerBell = Doorbell()
        let rings = (0..<consumers).map { _ in MessageRing(limit: 16, producerBell: producerBell) }
        let seen = Seen()
        var threads: [SocketThread] = []
        for (c, ring) in rings.enumerated() {
            threads.append(SocketThread.start(name: "ring-consumer-\(c)") {
                let collector = MessageCollector(rings: [ring], bell: ring.consumerBell)
                var message = Message()
                var mine: [Int] = []
                while case .frame = collector.receive(into: &message, timeout: .seconds(30)) {
                    mine.append(number(message).value)
                }
                seen.values.withLock { $0.append(contentsOf: mine) }
            })
        }
        let dispatcher = MessageDispatcher(rings: rings, bell: producerBell)
        var refused = 0
        for i in 0..<count {
            var message = numbered(i)
            if dispatcher.send(&message, timeout: .seconds(30)) != .written { refused += 1 }
        }
        dispatcher.close()
        for thread in threads { #expect(thread.join(timeout: .seconds(60))) }
        #expect(refused == 0)
        let all = seen.values.withLock { $0 }.sorted()
        #expect(all.count == count)
        #expect(all == Array(0..<count), "each message exactly once")
    }
}
