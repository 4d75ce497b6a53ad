import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import ZManagerHarness

/// `zmanager compare --format junit|markdown` and `$GITHUB_STEP_SUMMARY`: the same verdicts as
/// the text report, in forms CI systems read.
@Suite("zmanager compare: JUnit XML and Markdown")
struct CompareFormatTests {
    /// BASELINE with an awkward id on its first point, NEW with the second point slowed by 30 %,
    /// the third dropped and one point that only NEW has.
    static func comparison() -> (Comparison, slowed: String, dropped: String, added: String) {
        var baseline = ReportSamples.run()
        baseline.points[0].id = #"a<b>&"c'|d"#
        let slowedID = baseline.points[1].id
        var new = CompareTests.slowed(baseline, throughput: 0.7, only: [slowedID])
        let dropped = new.points.remove(at: 2)
        var extra = dropped
        extra.id = "only-in-new"
        new.points.append(extra)
        return (Comparison(baseline: baseline, new: new), slowedID, dropped.id, extra.id)
    }

    @Test func junitHasAFailurePerRegressionAnErrorPerMissingPointAndParses() throws {
        let (comparison, slowed, dropped, added) = Self.comparison()
        let xml = comparison.junit(baselineName: "base.json", newName: "new.json")
        let document = try XMLDocument(xmlString: xml)
        let suite = try #require(try document.nodes(forXPath: "/testsuites/testsuite").first as? XMLElement)
        #expect(suite.attribute(forName: "tests")?.stringValue == "\(comparison.points.count)")
        #expect(suite.attribute(forName: "failures")?.stringValue == "1")
        #expect(suite.attribute(forName: "errors")?.stringValue == "1")
        #expect(suite.attribute(forName: "skipped")?.stringValue == "1")

        func testcase(_ name: String) throws -> XMLElement {
            let cases = try document.nodes(forXPath: "//testcase").compactMap { $0 as? XMLElement }
            return try #require(cases.first { $0.attribute(forName: "name")?.stringValue == name }, "a testcase named \(name)")
        }
        let failure = try #require(try testcase(slowed).elements(forName: "failure").first)
        let message = failure.attribute(forName: "message")?.stringValue ?? ""
        #expect(message.contains("throughput ÷ bare") && message.contains("%"), "\(message)")
        #expect(try testcase(dropped).elements(forName: "error").count == 1)
        #expect(try testcase(added).elements(forName: "skipped").count == 1)
        let awkward = try testcase(#"a<b>&"c'|d"#)
        #expect(awkward.elements(forName: "failure").isEmpty, "escaped and passing")
        let properties = try document.nodes(forXPath: "//property").compactMap { $0 as? XMLElement }
        #expect(properties.contains { $0.attribute(forName: "name")?.stringValue == "baseline"
                    && $0.attribute(forName: "value")?.stringValue == "base.json" })
    }

    @Test func markdownLeadsWithTheVerdictAndNamesTheRegression() {
        let (comparison, slowed, dropped, _) = Self.comparison()
        let markdown = comparison.markdown(baselineName: "base.json", newName: "new.json")
        #expect(markdown.hasPrefix("### ⚠️ zmanager compare: could not compare"), "a missing point decides first")
        #expect(markdown.contains("| \(slowed) |") && markdown.contains("**REGRESSION**"))
        #expect(markdown.contains("| \(dropped) |") && markdown.contains("**missing**"))
        #expect(markdown.contains(#"a<b>&"c'\|d"#), "a pipe in a cell is escaped")
        #expect(markdown.contains("- **\(slowed)** (regression):"))

        let run = ReportSamples.run()
        let clean = Comparison(baseline: run, new: run).markdown()
        #expect(clean.hasPrefix("### ✅ zmanager compare: no regression (\(run.points.count) points"))
        let regressed = Comparison(baseline: run, new: CompareTests.slowed(run, throughput: 0.7)).markdown()
        #expect(regressed.hasPrefix("### ❌ zmanager compare: regression in \(run.points.count) of \(run.points.count) points"))
    }

    @Test func theCommandWritesEachFormatAndTheStepSummary() throws {
        let root = try ReportSamples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let baseline = ReportSamples.run()
        let base = root.appendingPathComponent("base.json"), slow = root.appendingPathComponent("slow.json")
        try ReportSamples.writeJSON(baseline, to: base)
        try ReportSamples.writeJSON(CompareTests.slowed(baseline, throughput: 0.7), to: slow)
        let junitPath = root.appendingPathComponent("gate.xml").path
        let junit = try CompareTests.zmanager(["compare", base.path, slow.path, "--format", "junit", "--output", junitPath])
        #expect(junit.status == 1, "the exit status is the verdict's, whatever the format: \(junit.output)")
        let written = try String(contentsOfFile: junitPath, encoding: .utf8)
        #expect(written.hasPrefix("<?xml") && written.contains("<failure"))
        _ = try XMLDocument(xmlString: written)

        let markdown = try CompareTests.zmanager(["compare", base.path, slow.path, "--format", "markdown"])
        #expect(markdown.output.hasPrefix("### ❌"), "\(markdown.output)")
        let bad = try CompareTests.zmanager(["compare", base.path, slow.path, "--format", "html"])
        #expect(bad.status != 0 && bad.output.contains("html"))

        // GitHub Actions: the Markdown summary is appended to $GITHUB_STEP_SUMMARY.
        let summary = root.appendingPathComponent("summary.md").path
        try "earlier step\n".write(toFile: summary, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = try CompareTests.executable
        process.arguments = ["compare", base.path, base.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["GITHUB_STEP_SUMMARY": summary]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let appended = try String(contentsOfFile: summary, encoding: .utf8)
        #expect(appended.hasPrefix("earlier step\n### ✅ zmanager compare: no regression"), "\(appended)")
    }
}
