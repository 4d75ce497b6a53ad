import Foundation
import Testing
import ZeroMQ

@Suite("Socket patterns over inproc, ipc and tcp")
struct SocketPatternTests {
    @Test(arguments: Transport.allCases)
    func pushPullDeliversInOrder(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let (pull, push) = try transport.pushPullPair(in: context)

        for i in 0..<100 {
            try push.send(string: "message \(i)")
        }
        var message = Message()
        for i in 0..<100 {
            #expect(try pull.receive(into: &message) == .received)
            #expect(message.string == "message \(i)")
            let more = message.more
            #expect(!more)
        }
        push.close()
        pull.close()
    }

    @Test(arguments: Transport.allCases)
    func pushRoundRobinsAcrossPullers(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let push = try Socket(context, .push)
        let endpoint = try transport.bind(push)
        let pullers = try (0..<2).map { _ in
            let pull = try Socket(context, .pull)
            try pull.setReceiveTimeout(.seconds(5))
            try pull.connect(endpoint)
            return pull
        }
        // PUSH only round-robins among connected peers: make sure both are connected
        // by sending one probe to each (a probe is only taken by a connected peer).
        var received = [0, 0]
        var message = Message()
        let poller = try Poller(pullers.map { ($0, .readable) })
        var sent = 0
        while received.contains(0) && sent < 200 {
            try push.send(string: "probe")
            sent += 1
            _ = try poller.poll(timeout: .milliseconds(20))
            for (i, pull) in pullers.enumerated() where poller.isReadable(i) {
                while try pull.receive(into: &message, dontWait: true) == .received { received[i] += 1 }
            }
        }
        #expect(!received.contains(0), "both pullers got messages")
        // Drain whatever is still in flight, then check nothing was lost or duplicated.
        while received.reduce(0, +) < sent {
            #expect(try poller.poll(timeout: .seconds(5)) > 0)
            for (i, pull) in pullers.enumerated() where poller.isReadable(i) {
                while try pull.receive(into: &message, dontWait: true) == .received { received[i] += 1 }
            }
        }
        #expect(received.reduce(0, +) == sent)
        for p in pullers { p.close() }
        push.close()
    }

    @Test(arguments: Transport.allCases)
    func subscriberReceivesOnlyMatchingPrefixes(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let pub = try Socket(context, .pub)
        let endpoint = try transport.bind(pub)
        let sub = try Socket(context, .sub)
        try sub.setReceiveTimeout(.milliseconds(50))
        try sub.subscribe("Echo~~~~done~")
        try sub.subscribe("ctl")
        try sub.connect(endpoint)

        // Subscriptions travel to the PUB asynchronously: publish a matching probe until
        // one arrives, which proves the filter is installed at the publisher.
        var message = Message()
        var probes = 0
        while true {
            try pub.send(string: "ctl-probe")
            probes += 1
            if try sub.receive(into: &message) == .received { break }
            try #require(probes < 100)
        }
        while try sub.receive(into: &message) == .received {}  // drain extra probes

        try sub.setReceiveTimeout(.seconds(5))
        for topic in ["Echo~~~~doneX~id~", "Other~~~~done~id~", "Echo~~~~done~id-1~body", "ctl2", "Ech"] {
            try pub.send(string: topic)
        }
        #expect(try sub.receive(into: &message) == .received)
        #expect(message.string == "Echo~~~~done~id-1~body")
        #expect(try sub.receive(into: &message) == .received)
        #expect(message.string == "ctl2")
        try sub.setReceiveTimeout(.milliseconds(100))
        #expect(try sub.receive(into: &message) == .wouldBlock, "no other topic got through")

        try sub.unsubscribe("ctl")
        // The unsubscribe reaches the publisher asynchronously. Send "ctl3" then a marker
        // until a marker arrives with no "ctl3" before it: the filter is then gone.
        try sub.setReceiveTimeout(.seconds(5))
        var filtered = false
        for round in 0..<50 where !filtered {
            try pub.send(string: "ctl3")
            try pub.send(string: "Echo~~~~done~marker-\(round)~")
            var sawCtl = false
            while try sub.receive(into: &message) == .received {
                if message.string == "ctl3" { sawCtl = true; continue }
                if message.string == "Echo~~~~done~marker-\(round)~" { break }
            }
            filtered = !sawCtl
        }
        #expect(filtered, "unsubscribing removed the ctl prefix")
    }

    @Test(arguments: Transport.allCases)
    func multipartFramesStayTogether(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let (pull, push) = try transport.pushPullPair(in: context)

        let big = [UInt8](repeating: 0xAB, count: 100_000)
        try push.send(multipart: [Array("header~".utf8), [], big])
        try push.send(multipart: [Array("single".utf8)])

        let first = try #require(try pull.receiveMultipart())
        #expect(first.count == 3)
        #expect(first[0] == Array("header~".utf8))
        #expect(first[1].isEmpty)
        #expect(first[2] == big)
        #expect(try pull.receiveMultipart() == [Array("single".utf8)])
    }

    @Test(arguments: Transport.allCases)
    func forwardingMovesFramesWithoutChangingThem(transport: Transport) throws {
        // service → forwarder (PULL → PUSH) → sink: the Subject/IM shape.
        let context = try Context()
        defer { context.terminate() }
        let front = try Socket(context, .pull)
        try front.setReceiveTimeout(.seconds(5))
        let frontEndpoint = try transport.bind(front)
        let back = try Socket(context, .push)
        let backEndpoint = try transport.bind(back)
        let sink = try Socket(context, .pull)
        try sink.setReceiveTimeout(.seconds(5))
        try sink.connect(backEndpoint)
        let source = try Socket(context, .push)
        try source.connect(frontEndpoint)

        try source.send(multipart: [Array("h".utf8), Array(repeating: 7, count: 50_000)])
        var scratch = Message()
        #expect(try front.forward(to: back, using: &scratch) == .received)
        let got = try #require(try sink.receiveMultipart())
        #expect(got == [Array("h".utf8), Array(repeating: 7, count: 50_000)])
    }

    @Test func sharedMessagesReferenceOneBody() throws {
        var original = Message(copying: Array(repeating: UInt8(3), count: 1000))
        var copy = Message()
        copy.share(from: original)
        let copyCount = copy.count
        #expect(copyCount == 1000)
        original.withUnsafeBytes { a in copy.withUnsafeBytes { b in #expect(a.baseAddress == b.baseAddress) } }
        var moved = Message()
        moved.move(from: &original)
        let originalCount = original.count
        let movedIntact = moved.bodyEquals(Array(repeating: UInt8(3), count: 1000))
        #expect(originalCount == 0)
        #expect(movedIntact)
    }
}
