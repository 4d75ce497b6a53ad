import Foundation
import Testing
import ZManager
import ZeroMQ

@Suite("ASYNC: a flow pauses and an external response continues it")
struct AsyncTests {
    /// The seed's example (`zmanager.md`, "Decorators"), verbatim.
    static let seedFlow = """
        [ServiceManagement_GetServiceTopics]
        ?ServiceManagement_GetServiceTopics?Push
        Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics
        ?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response
        ??done
        """

    @Test(arguments: TestTransport.allCases)
    func theSeedsGetServiceTopicsExample(transport: TestTransport) throws {
        let flow = "ServiceManagement_GetServiceTopics"
        let pipeline = try TestPipeline(transport: transport, flows: Self.seedFlow, mapping: "[actionmapping]\n")
        defer { pipeline.stop() }
        // The service management core service executes both the PUBLISH step and, when the
        // other service's answer arrives, the ASYNC step.
        var core = HandlerRegistry()
        core.register("core.get_service_topics") { request, response in
            response.setBody(Array("which topics, \(String(decoding: request.body, as: UTF8.self))?".utf8))
        }
        core.register("core.get_service_topics_response") { request, response in
            response.setBody(Array("topics: ".utf8) + Array(request.body))
        }
        _ = try pipeline.startService(
            name: "service-management",
            mapping: "[actionmapping]\n??get_service_topics = core.get_service_topics\n??get_service_topics_response = core.get_service_topics_response\n",
            handlers: core)
        try pipeline.subscribe(Topics.parkedPrefix(flow: flow))
        try pipeline.subscribe(Topics.resultPrefix(flow: flow))

        // The external party (here the test) sees the parked request and answers it.
        var parked: ZManagerClient.Delivery?
        for attempt in 0..<50 where parked == nil {
            try pipeline.client.push(flow: flow, id: "gst-\(attempt)", body: Array("svcA".utf8))
            parked = try pipeline.receive(timeout: .milliseconds(200)) { $0.decorator == "PARKED" }
        }
        let request = try #require(parked, "the flow parked at its ASYNC step")
        #expect(request.config == Topics.asyncConfig)
        #expect(request.context == flow)
        #expect(request.action == "get_service_topics_response")
        #expect(request.text == "which topics, svcA?")
        try pipeline.client.resume(flow: flow, action: request.action, id: request.id, body: Array("a,b".utf8))
        let result = try #require(try pipeline.receive { $0.id == request.id && $0.isResult })
        #expect(result.text == "topics: a,b")
        #expect(pipeline.node.statistics.parked.load(ordering: .relaxed) == 0)
    }

    static let workerFlow = """
        [Ext]
        ?Ext?Push
        Subject?Ext?start
        ?Ext@ASYNC?finish
        ??done
        """

    static func workerHandlers() -> HandlerRegistry {
        var handlers = HandlerRegistry()
        handlers.register("test.start") { request, response in response.setBody(Array("started@\(request.executor)".utf8)) }
        handlers.register("test.finish") { request, response in
            response.setBody(Array(request.body) + Array(";finished@\(request.executor)".utf8))
        }
        return handlers
    }

    @Test(arguments: TestTransport.allCases)
    func theResponseContinuesTheFlowOnAnotherWorker(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: Self.workerFlow,
                                        mapping: "[actionmapping]\n??start = test.start\n??finish = test.finish\n",
                                        handlers: Self.workerHandlers(), options: .init(workers: 2))
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.parkedPrefix(flow: "Ext"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Ext"))
        var crossed = 0
        var completed = 0
        for i in 0..<20 where crossed == 0 || completed < 6 {
            let id = "ext-\(i)"
            try pipeline.client.push(flow: "Ext", id: id, body: [])
            let parked = try #require(try pipeline.receive { $0.id == id && $0.decorator == "PARKED" })
            #expect(parked.text.hasPrefix("started@w"))
            try pipeline.client.resume(flow: "Ext", action: "finish", id: id, body: parked.body)
            let result = try #require(try pipeline.receive { $0.id == id && $0.isResult })
            let parts = result.text.split(separator: ";").map { $0.split(separator: "@").last.map(String.init) ?? "" }
            #expect(parts.count == 2)
            if parts.count == 2 && parts[0] != parts[1] { crossed += 1 }
            completed += 1
        }
        #expect(crossed > 0, "a flow paused on one worker was continued by the other")
    }

    @Test func parkedFlowsExpireWithAnError() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.workerFlow,
                                        mapping: "[actionmapping]\n??start = test.start\n??finish = test.finish\n",
                                        handlers: Self.workerHandlers(),
                                        options: .init(async: AsyncOptions(timeout: .milliseconds(100), capacity: 10)))
        defer { pipeline.stop() }
        let clock = ContinuousClock()
        let start = clock.now
        try pipeline.client.push(flow: "Ext", id: "late", body: [])
        let error = try #require(try pipeline.receive { $0.id == "late" && $0.errorKind != nil })
        #expect(error.errorKind == .asyncTimeout)
        #expect(error.decorator == "ERROR")
        #expect(clock.now - start >= .milliseconds(100))
        // Answering now is too late: a NOTICE, not a second result.
        try pipeline.client.resume(flow: "Ext", action: "finish", id: "late", body: [])
        let notice = try #require(try pipeline.receive { $0.id == "late" && $0.errorKind != nil })
        #expect(notice.errorKind == .asyncUnknown)
        #expect(notice.decorator == "NOTICE")
        #expect(pipeline.node.statistics.inFlight == 0)
    }

    @Test func theParkingTableIsBounded() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.workerFlow,
                                        mapping: "[actionmapping]\n??start = test.start\n??finish = test.finish\n",
                                        handlers: Self.workerHandlers(),
                                        options: .init(async: AsyncOptions(timeout: .seconds(30), capacity: 2)))
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.parkedPrefix(flow: "Ext"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Ext"))
        for i in 0..<3 { try pipeline.client.push(flow: "Ext", id: "cap-\(i)", body: []) }
        var parkedIDs: Set<String> = []
        var refused: ZManagerClient.Delivery?
        while parkedIDs.count < 2 || refused == nil {
            let delivery = try #require(try pipeline.receive { $0.decorator == "PARKED" || $0.errorKind != nil })
            if delivery.decorator == "PARKED" { parkedIDs.insert(delivery.id) } else { refused = delivery }
        }
        #expect(refused?.errorKind == .asyncCapacity)
        // The parked ones still complete.
        for id in parkedIDs {
            try pipeline.client.resume(flow: "Ext", action: "finish", id: id, body: [])
            #expect(try pipeline.receive { $0.id == id && $0.isResult } != nil)
        }
    }
}
