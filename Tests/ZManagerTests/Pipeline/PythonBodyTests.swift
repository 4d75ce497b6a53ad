import Foundation
import Pickle
import Testing
import ZManager
import ZeroMQ

/// Python peers through a real pipeline: pickled error bodies in single form, typed values for
/// handlers, refused pickles reported as errors, and DigitalPy's ASYNC continuation.
@Suite("Python bodies: pickled errors, handler values, refused pickles, completed_command")
struct PythonBodyTests {
    static let flows = """
        [Values]
        ?Values?Push
        Subject?Values?Double
        ??done

        [Stamped]
        ?Stamped?Push
        Subject?Stamped?Stamp
        ?Stamped?Stamp
        ??done

        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done

        [Boom]
        ?Boom?Push
        Subject?Boom?explode
        ??done
        """

    /// `Double`: reads `{"n": int, "name": str}` and answers `{"n": 2n, "name": NAME, "form": …}`.
    static func handlers() -> HandlerRegistry {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.double") { request, response in
            let values = try request.values()
            guard let n = values["n"]?.intValue, let name = values["name"]?.stringValue else {
                throw HandlerError("expected n and name, found \(values)")
            }
            response.setValues(["n": .integer(2 * n), "name": .string(name.uppercased()),
                                "form": .string(request.form == .single ? "single" : "split")])
        }
        handlers.register("test.explode") { request, _ in throw HandlerError("refusing \(request.body.count) bytes") }
        return handlers
    }

    static let mapping = """
        [actionmapping]
        ??Double = test.double
        ??Stamp = zmanager.builtin.stamp
        ??Echo = zmanager.builtin.echo
        ??explode = test.explode
        """

    static func makePipeline(_ transport: TestTransport, form: WireForm) throws -> TestPipeline {
        let pipeline = try TestPipeline(transport: transport, flows: flows, mapping: mapping, handlers: handlers(), form: form)
        for flow in ["Values", "Stamped", "Echo", "Boom"] { try pipeline.subscribe(Topics.resultPrefix(flow: flow)) }
        return pipeline
    }

    func pushAndWait(_ pipeline: TestPipeline, flow: String, id: String, body: [UInt8]) throws -> ZManagerClient.Delivery {
        try pipeline.client.push(flow: flow, id: id, body: body)
        return try #require(try pipeline.receive { $0.id == id && ($0.isResult || $0.errorKind != nil) }, "an answer for \(id)")
    }

    // MARK: Error bodies

    @Test(arguments: [TestTransport.inproc, .tcp])
    func errorsToSingleFormRequestsArePickledDicts(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport, form: .single)
        defer { pipeline.stop() }

        let unknown = try pushAndWait(pipeline, flow: "NoSuchFlow", id: "e-1", body: PickleEncoder.encode(["x": 1]))
        #expect(unknown.form == .single)
        #expect(unknown.errorKind == .unknownFlow)
        #expect(try unknown.values() == [
            "error": "no flow named \"NoSuchFlow\" is loaded", "kind": "unknown_flow", "role": "Subject",
            "flow": "NoSuchFlow", "id": "e-1",
        ])
        #expect(unknown.errorText == "no flow named \"NoSuchFlow\" is loaded")

        let failed = try pushAndWait(pipeline, flow: "Boom", id: "e-2", body: PickleEncoder.encode(["x": 1]))
        #expect(failed.errorKind == .handlerFailed)
        let values = try failed.values()
        #expect(values["kind"] == "handler_failed")
        #expect(values["flow"] == "Boom")
        #expect(values["id"] == "e-2")
        #expect(values["role"]?.stringValue?.hasPrefix("Worker w") == true)
        #expect(values["error"]?.stringValue?.contains("refusing") == true)
        // Exactly the bytes the core's encoder writes (CPython's layout; the interop tests
        // check them against CPython itself).
        #expect(failed.body == PickleEncoder.encode(values, protocol: 4))
        #expect(Array(failed.body.prefix(2)) == [0x80, 0x04])
    }

    @Test func errorsToSplitFormRequestsStayText() throws {
        let pipeline = try Self.makePipeline(.inproc, form: .split)
        defer { pipeline.stop() }
        let unknown = try pushAndWait(pipeline, flow: "NoSuchFlow", id: "t-1", body: [])
        #expect(unknown.form == .split)
        #expect(unknown.text == "no flow named \"NoSuchFlow\" is loaded")
        #expect(unknown.errorText == unknown.text)
    }

    @Test func garbageSingleFramesGetPickledErrors() throws {
        let pipeline = try Self.makePipeline(.inproc, form: .single)
        defer { pipeline.stop() }
        try pipeline.client.sendRaw([Array("Values~~svc~Values~Pu".utf8)])  // a truncated header
        let error = try #require(try pipeline.receive { $0.errorKind != nil })
        #expect(error.errorKind == .undecodable)
        #expect(error.form == .single)
        let values = try error.values()
        #expect(values["role"] == "Subject")
        #expect(values["error"]?.stringValue?.isEmpty == false)
    }

    // MARK: Handler values

    @Test(arguments: [WireForm.single, .split])
    func valuesAndSetValuesRoundTrip(form: WireForm) throws {
        let pipeline = try Self.makePipeline(.tcp, form: form)
        defer { pipeline.stop() }
        let result = try pushAndWait(pipeline, flow: "Values", id: "v-1",
                                     body: PickleEncoder.encode(["n": 21, "name": "ada"], protocol: 4))
        #expect(result.isResult)
        #expect(result.form == form)
        #expect(try result.values() == ["n": 42, "name": "ADA", "form": .string(form == .single ? "single" : "split")])
    }

    @Test func theStampBuiltinKeepsEveryValueAndAppendsPerStep() throws {
        let pipeline = try Self.makePipeline(.inproc, form: .single)
        defer { pipeline.stop() }
        let sent: PickleValue = [
            "payload": .bytes([0, 0x7E, 0xFF]), "big": .integer(UInt64.max), "pi": 3.25, "none": nil,
            "nested": ["list": [1, "two", .tuple([true, false])]],
        ]
        try pipeline.client.push(flow: "Stamped", id: "s-1", values: sent)
        let result = try #require(try pipeline.receive { $0.id == "s-1" && ($0.isResult || $0.errorKind != nil) })
        #expect(result.isResult, "\(result.errorText)")
        guard case .dict(let pairs) = try result.values() else { Issue.record("not a dict"); return }
        guard case .dict(let sentPairs) = sent else { return }
        #expect(pairs.dropLast().map(\.key) == sentPairs.map(\.key), "keys kept in order")
        #expect(PickleValue.dict(Array(pairs.dropLast())) == sent)
        let stampValues = try #require(pairs.last?.value.arrayValue)
        let stamps = stampValues.compactMap { $0.stringValue }
        #expect(pairs.last?.key == "stamps")
        #expect(stamps.count == 2)
        #expect(stamps.allSatisfy { $0.hasPrefix("w") && $0.hasSuffix(":Stamp") })
    }

    @Test func echoForwardsBodiesWithoutDecodingThem() throws {
        let pipeline = try Self.makePipeline(.inproc, form: .single)
        defer { pipeline.stop() }
        let notAPickle = Array("\u{80}\u{04}not a pickle~at all".utf8)
        let result = try pushAndWait(pipeline, flow: "Echo", id: "x-1", body: notAPickle)
        #expect(result.isResult)
        #expect(result.body == notAPickle)
    }

    // MARK: Refused pickles

    /// `pickle.dumps` of objects DigitalPy puts in values (here `os.system('echo hi')` as a
    /// protocol-0 GLOBAL + REDUCE): never executed, an `undecodable` error with the id.
    static let refusedBodies: [(name: String, body: [UInt8], mentions: String)] = [
        ("GLOBAL + REDUCE", Array("cos\nsystem\n(S'echo hi'\ntR.".utf8), "GLOBAL"),
        ("truncated", Array(PickleEncoder.encode(["n": 1, "name": "ada"]).dropLast(3)), "offset"),
        ("empty", [], "truncated"),
        ("trailing bytes", PickleEncoder.encode(["n": 1]) + [0x2E], "after STOP"),
    ]

    @Test(arguments: [WireForm.single, .split])
    func aRefusedPickleGivesAnUndecodableErrorWithTheID(form: WireForm) throws {
        let pipeline = try Self.makePipeline(.inproc, form: form)
        defer { pipeline.stop() }
        for (index, sample) in Self.refusedBodies.enumerated() {
            let error = try pushAndWait(pipeline, flow: "Values", id: "r-\(index)", body: sample.body)
            #expect(error.errorKind == .undecodable, "\(sample.name): \(error.errorText)")
            #expect(error.decorator == "ERROR")
            #expect(error.source.hasPrefix("Worker w"))
            #expect(error.context == "Values")
            #expect(error.form == form)
            #expect(error.errorText.contains("not an accepted pickle"), "\(sample.name): \(error.errorText)")
            #expect(error.errorText.contains(sample.mentions), "\(sample.name): \(error.errorText)")
        }
        // A pickle that is not a dict is the handler's problem, not the message's.
        let list = try pushAndWait(pipeline, flow: "Stamped", id: "r-list", body: PickleEncoder.encode([1, 2]))
        #expect(list.errorKind == .handlerFailed)
        #expect(list.errorText.contains("expected the body to be a pickled dict"), "\(list.errorText)")
        // And the pipeline still serves.
        let ok = try pushAndWait(pipeline, flow: "Values", id: "r-ok", body: PickleEncoder.encode(["n": 1, "name": "x"]))
        #expect(ok.isResult)
    }

    // MARK: ASYNC: prev_flows and completed_command

    static let asyncFlows = """
        [Approve]
        ?Approve?Push
        Subject?Approve?Stamp
        ?Approve@ASYNC?Approved
        ??done
        """

    static let asyncMapping = "[actionmapping]\n??Stamp = zmanager.builtin.stamp\n??Approved = zmanager.builtin.stamp\n"

    @Test(arguments: [TestTransport.inproc, .ipc, .tcp])
    func aCompletedCommandToTheIntegrationManagerContinuesTheParkedFlow(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: Self.asyncFlows, mapping: Self.asyncMapping, form: .single)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.parkedPrefix(flow: "Approve"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Approve"))
        // What a DigitalPy party holds: a PUSH to the Integration Manager.
        let party = try Socket(pipeline.clientContext, .push)
        defer { party.close() }
        try party.connect(pipeline.node.endpoints.integrationManagerPull)

        let id = "9a1c2b7e-0000-4000-8000-000000000001"
        try pipeline.client.push(flow: "Approve", id: id, values: ["name": "ada", "prev_flows": "stale"])
        let parked = try #require(try pipeline.receive { $0.id == id && $0.decorator == Topics.parkedDecorator })
        #expect(parked.form == .single)
        let entry: PickleValue = ["config": "Approve", "decorator": "ASYNC", "source": "", "context": "Approve",
                                  "action": "Approved", "id": .string(id)]
        let request = try parked.values()
        #expect(request["prev_flows"] == [entry], "an earlier prev_flows is replaced, as DigitalPy does")
        #expect(request["name"] == "ada")
        #expect(request["stamps"]?.arrayValue?.count == 1)

        // DigitalPyService.handle_command's answer, bytes as DigitalPy writes them.
        let answer: PickleValue = ["message": "approved", "prev_flows": request["prev_flows"]!]
        _ = try party.send(multipart: [Array("completed_command~~~~done~\(id)~".utf8) + PickleEncoder.encode(answer)])
        let result = try #require(try pipeline.receive { $0.id == id && ($0.isResult || $0.errorKind != nil) })
        #expect(result.isResult, "\(result.errorText)")
        #expect(result.config == "Approve")
        let values = try result.values()
        #expect(values["message"] == "approved")
        #expect(values["prev_flows"] == [entry])
        #expect(values["stamps"]?.arrayValue?.first?.stringValue?.hasSuffix(":Approved") == true)
        // The completed_command itself is not counted as a result: the flow ended once.
        #expect(try pipeline.receive(timeout: .milliseconds(200)) { $0.id == id } == nil)
        let statistics = pipeline.node.statistics
        #expect(statistics.results.load(ordering: .acquiring) == 1)
        #expect(statistics.parked.load(ordering: .acquiring) == 0)
        #expect(statistics.inFlight == 0)
    }

    @Test func aCompletedCommandForNoParkedFlowIsAPickledNotice() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.asyncFlows, mapping: Self.asyncMapping, form: .single)
        defer { pipeline.stop() }
        let party = try Socket(pipeline.clientContext, .push)
        defer { party.close() }
        try party.connect(pipeline.node.endpoints.integrationManagerPull)
        _ = try party.send(multipart: [Array("completed_command~~~~done~nobody~".utf8) + PickleEncoder.encode(["a": 1])])
        let notice = try #require(try pipeline.receive { $0.id == "nobody" && $0.errorKind != nil })
        #expect(notice.errorKind == .asyncUnknown)
        #expect(notice.decorator == Topics.noticeDecorator)
        #expect(try notice.values()["kind"] == "async_unknown")
        #expect(pipeline.node.statistics.inFlight == 0)
    }

    @Test func splitFormParkedRequestsKeepTheirBody() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: "[Ext]\n?Ext?Push\n?Ext@ASYNC?Finish\n??done\n",
                                        mapping: "[actionmapping]\n??Finish = zmanager.builtin.echo\n", form: .split)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.parkedPrefix(flow: "Ext"))
        let body = PickleEncoder.encode(["a": 1])
        try pipeline.client.push(flow: "Ext", id: "p-1", body: body)
        let parked = try #require(try pipeline.receive { $0.id == "p-1" && $0.decorator == Topics.parkedDecorator })
        #expect(parked.body == body, "no prev_flows is added to Swift-to-Swift bodies")
        try pipeline.subscribe(Topics.resultPrefix(flow: "Ext"))
        try pipeline.client.resume(flow: "Ext", action: "Finish", id: "p-1", body: body)
        #expect(try pipeline.receive { $0.id == "p-1" && $0.isResult }?.body == body)
    }
}
