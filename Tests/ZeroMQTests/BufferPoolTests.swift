import Foundation
import Synchronization
import Testing
import ZeroMQ

@Suite("Pooled zero-copy buffers")
struct BufferPoolTests {
    @Test(arguments: Transport.allCases)
    func everyPooledBufferComesBackExactlyOnceAfterDelivery(transport: Transport) throws {
        let pool = BufferPool(sizeClasses: [.init(size: 64 << 10, count: 8)], zeroCopyThreshold: 1024)
        let context = try Context()
        defer { context.terminate() }
        let (pull, push) = try transport.pushPullPair(in: context)

        let count = 200  // far more than the 8 buffers: they must be recycled
        var received = Message()
        for i in 0..<count {
            var message = pool.message(count: 40_000) { body in
                body.storeBytes(of: UInt32(i), as: UInt32.self)
            }
            #expect(try push.send(&message) == .sent)
            #expect(try pull.receive(into: &received) == .received)
            let seq = received.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            #expect(seq == UInt32(i))
            let size = received.count
            #expect(size == 40_000)
            received.reset()
            // One buffer is in use at most: wait for libzmq (its I/O thread for tcp/ipc)
            // to drop the body before sending the next one, so the pool never runs dry.
            #expect(eventually { pool.statistics.inUse == 0 })
        }
        let stats = pool.statistics
        #expect(stats.inUse == 0)
        #expect(stats.hits == count)
        #expect(stats.fallbacks == 0)
        #expect(stats.releases == count, "returned exactly once each")
    }

    @Test func smallBodiesAreCopiedNotPooled() throws {
        let pool = BufferPool(sizeClasses: [.init(size: 4096, count: 4)], zeroCopyThreshold: 1024)
        for size in [0, 1, 33, 64, 1023] {
            let message = pool.message(count: size) { $0.initializeMemory(as: UInt8.self, repeating: 1) }
            let messageSize = message.count
            #expect(messageSize == size)
        }
        #expect(pool.statistics.hits == 0)
        let pooled = pool.message(count: 1024) { _ in }
        _ = consume pooled
        #expect(pool.statistics.hits == 1)
        #expect(pool.statistics.releases == 1)
    }

    @Test func anExhaustedPoolFallsBackAndCountsIt() throws {
        let pool = BufferPool(sizeClasses: [.init(size: 4096, count: 2)])
        var a = pool.pooledMessage(count: 4000) { _ in }
        var b = pool.pooledMessage(count: 4000) { _ in }
        var c = pool.pooledMessage(count: 4000) { _ in }  // class empty → malloc
        var d = pool.pooledMessage(count: 10_000) { _ in }  // larger than any class → malloc
        var stats = pool.statistics
        #expect(stats.hits == 2)
        #expect(stats.fallbacks == 2)
        #expect(stats.inUse == 4)
        a.reset(); b.reset(); c.reset(); d.reset()
        stats = pool.statistics
        #expect(stats.inUse == 0)
        #expect(stats.releases == 4)
        // The pooled buffers are free again.
        let e = pool.pooledMessage(count: 100) { _ in }
        #expect(pool.statistics.hits == 3)
        _ = consume e
    }

    @Test func concurrentAcquireAndReleaseKeepExactCounts() throws {
        let pool = BufferPool(sizeClasses: [.init(size: 4096, count: 16)])
        let threads = 4
        let rounds = 20_000
        let checksumErrors = Counter()
        let workers = (0..<threads).map { t in
            SocketThread.start(name: "pool-stress-\(t)") {
                // Hold up to 3 buffers at a time so threads contend for the 16 buffers,
                // and check each buffer still holds what this thread wrote.
                var a = Message(), b = Message(), c = Message()
                for round in 0..<rounds {
                    let tag = UInt64(t) << 32 | UInt64(round)
                    var m = pool.pooledMessage(count: 4096) { $0.storeBytes(of: tag, as: UInt64.self) }
                    if m.withUnsafeBytes({ $0.load(as: UInt64.self) }) != tag { checksumErrors.value.add(1, ordering: .relaxed) }
                    switch round % 3 {
                    case 0: a.move(from: &m)
                    case 1: b.move(from: &m)
                    default: c.move(from: &m)
                    }
                }
                a.reset(); b.reset(); c.reset()
            }
        }
        for worker in workers { #expect(worker.join(timeout: .seconds(60))) }
        let stats = pool.statistics
        #expect(checksumErrors.value.load(ordering: .relaxed) == 0)
        #expect(stats.hits + stats.fallbacks == threads * rounds)
        #expect(stats.releases == threads * rounds)
        #expect(stats.inUse == 0)
        #expect(stats.hits > 0)
    }

    @Test func buffersReleasedOnAnotherThreadReturnToThePool() throws {
        // Producer makes pooled messages, consumer (another thread) drops them via inproc:
        // the free callback runs on the consumer's thread.
        let pool = BufferPool(sizeClasses: [.init(size: 16 << 10, count: 4)])
        let context = try Context()
        let pull = try Socket(context, .pull)
        try pull.bind("inproc://cross-thread")
        let push = try Socket(context, .push)
        try push.connect("inproc://cross-thread")
        let total = 5_000
        let consumer = SocketThread.start(name: "consumer") {
            var m = Message()
            for _ in 0..<total { _ = try? pull.receive(into: &m) }
            m.reset()
            pull.close()
        }
        for i in 0..<total {
            var m = pool.message(count: 10_000) { $0.storeBytes(of: i, as: Int.self) }
            _ = try push.send(&m)
        }
        #expect(consumer.join(timeout: .seconds(30)))
        push.close()
        context.terminate()
        let stats = pool.statistics
        #expect(stats.inUse == 0)
        #expect(stats.hits + stats.fallbacks == total)
        #expect(stats.releases == total)
    }
}

/// A shareable atomic counter for test threads.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
