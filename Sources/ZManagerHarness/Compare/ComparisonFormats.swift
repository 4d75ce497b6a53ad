/// `zmanager compare`'s CI-native outputs: JUnit XML (a regressed point is a failed test case
/// with its figures in the message) and a Markdown summary fit for a pull-request comment or
/// `$GITHUB_STEP_SUMMARY`. Same verdicts as ``Comparison/render(baselineName:newName:)``.
extension Comparison {
    /// The output formats of `zmanager compare --format`.
    public enum OutputFormat: String, Sendable, CaseIterable {
        case text, junit, markdown
    }

    /// The comparison in `format`.
    public func rendered(_ format: OutputFormat, baselineName: String = "BASELINE", newName: String = "NEW") -> String {
        switch format {
        case .text: render(baselineName: baselineName, newName: newName)
        case .junit: junit(baselineName: baselineName, newName: newName)
        case .markdown: markdown(baselineName: baselineName, newName: newName)
        }
    }

    /// One line of a point's figures: the gated ratios and the absolute ones, BASE → NEW (Δ).
    func figures(_ point: PointComparison) -> String {
        func pair(_ name: String, _ value: (PointSummary) -> Double?, _ change: Double?, _ format: (Double) -> String) -> String {
            let old = point.baseline.flatMap(value).map(format) ?? "—"
            let current = point.new.flatMap(value).map(format) ?? "—"
            return "\(name) \(old) → \(current) (\(Format.percentChange(change)))"
        }
        return [
            pair("throughput ÷ bare", \.throughputRatio, point.throughputChange) { Format.fixed($0, 2) },
            pair("p99 ÷ bare", \.p99LatencyRatio, point.latencyChange) { Format.fixed($0, 2) },
            pair("msg/s", \.messagesPerSecond, point.messagesPerSecondChange) { Format.rate($0) },
            pair("p99", \.p99Nanoseconds, point.p99Change) { Format.nanoseconds($0) },
        ].joined(separator: "; ")
    }

    /// JUnit XML: one `testcase` per point of the scenario's suite. A regression is a `failure`,
    /// a BASELINE point missing from NEW an `error`, a point only in NEW `skipped` (not judged).
    public func junit(baselineName: String = "BASELINE", newName: String = "NEW") -> String {
        let failures = regressions.count
        let errors = missing.count + (baseline.points.isEmpty || new.points.isEmpty ? 1 : 0)
        let skipped = points.filter { $0.verdict == .new }.count
        let suite = "zmanager compare \(new.scenario)"
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += #"<testsuites name="\#(Self.xml(suite))" tests="\#(points.count)" failures="\#(failures)" errors="\#(errors)" skipped="\#(skipped)">"# + "\n"
        xml += #"  <testsuite name="\#(Self.xml(suite))" tests="\#(points.count)" failures="\#(failures)" errors="\#(errors)" skipped="\#(skipped)" time="0">"# + "\n"
        xml += "    <properties>\n"
        for (name, value) in [("baseline", baselineName), ("new", newName),
                              ("throughput_threshold", "\(thresholds.throughputDrop)"),
                              ("latency_threshold", "\(thresholds.latencyRise)"), ("alpha", "\(thresholds.alpha)")] {
            xml += #"      <property name="\#(name)" value="\#(Self.xml(value))"/>"# + "\n"
        }
        for warning in warnings { xml += #"      <property name="warning" value="\#(Self.xml(warning))"/>"# + "\n" }
        xml += "    </properties>\n"
        if baseline.points.isEmpty || new.points.isEmpty {
            let side = baseline.points.isEmpty ? "BASELINE" : "NEW"
            xml += #"    <testcase classname="\#(Self.xml(suite))" name="points" time="0">"# + "\n"
            xml += #"      <error message="\#(side) has no points" type="input"/>"# + "\n"
            xml += "    </testcase>\n"
        }
        for point in points {
            xml += #"    <testcase classname="\#(Self.xml(suite))" name="\#(Self.xml(point.id))" time="0">"#
            let message = ([figures(point)] + point.reasons).joined(separator: "; ")
            switch point.verdict {
            case .regression:
                xml += "\n" + #"      <failure message="\#(Self.xml(message))" type="regression">\#(Self.xml(message))</failure>"# + "\n    "
            case .missing:
                xml += "\n" + #"      <error message="in BASELINE, missing from NEW" type="missing"/>"# + "\n    "
            case .new:
                xml += "\n" + #"      <skipped message="only in NEW: not judged"/>"# + "\n    "
            case .ok, .improved:
                xml += "\n" + #"      <system-out>\#(Self.xml(message))</system-out>"# + "\n    "
            }
            xml += "</testcase>\n"
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    /// A Markdown summary: the verdict first, then a table of every point, the reasons behind
    /// each verdict that is not `ok`, the warnings and the thresholds.
    public func markdown(baselineName: String = "BASELINE", newName: String = "NEW") -> String {
        let compared = points.filter { $0.baseline != nil && $0.new != nil }.count
        var md: String
        switch verdict {
        case .ok: md = "### ✅ zmanager compare: no regression (\(compared) points, `\(Self.cell(new.scenario))`)\n\n"
        case .regression:
            md = "### ❌ zmanager compare: regression in \(regressions.count) of \(compared) points (`\(Self.cell(new.scenario))`)\n\n"
        case .error: md = "### ⚠️ zmanager compare: could not compare (`\(Self.cell(new.scenario))`)\n\n"
        }
        md += "BASELINE `\(Self.cell(baselineName))` · NEW `\(Self.cell(newName))`\n\n"
        md += "| point | throughput ÷ bare | Δ | p99 ÷ bare | Δ | msg/s | p99 | verdict |\n"
        md += "|---|---:|---:|---:|---:|---:|---:|---|\n"
        for point in points {
            func pair(_ value: (PointSummary) -> Double?, _ format: (Double) -> String) -> String {
                "\(point.baseline.flatMap(value).map(format) ?? "—") → \(point.new.flatMap(value).map(format) ?? "—")"
            }
            let verdictText: String = switch point.verdict {
            case .ok: "ok"
            case .improved: "improved"
            case .regression: "**REGRESSION**"
            case .missing: "**missing**"
            case .new: "new (not judged)"
            }
            md += "| \(Self.cell(point.id)) | \(pair(\.throughputRatio) { Format.fixed($0, 2) }) | "
                + "\(Format.percentChange(point.throughputChange)) | "
                + "\(pair(\.p99LatencyRatio) { Format.fixed($0, 2) }) | "
                + "\(Format.percentChange(point.latencyChange)) | "
                + "\(pair(\.messagesPerSecond) { Format.rate($0) }) | "
                + "\(pair(\.p99Nanoseconds) { Format.nanoseconds($0) }) | \(verdictText) |\n"
        }
        let explained = points.filter { $0.verdict != .ok && !$0.reasons.isEmpty }
        if !explained.isEmpty {
            md += "\n"
            for point in explained {
                md += "- **\(Self.cell(point.id))** (\(point.verdict.rawValue)): \(Self.cell(point.reasons.joined(separator: "; ")))\n"
            }
        }
        if !warnings.isEmpty {
            md += "\n"
            for warning in warnings { md += "> ⚠️ \(Self.cell(warning))\n" }
        }
        md += "\n<sub>Throughput regresses on a one-sided Mann-Whitney test at α = \(thresholds.alpha) with a shift of at least "
            + "\(Format.significant(thresholds.throughputDrop * 100)) % (or a median drop beyond it with few "
            + "repeats); the p99 ratio when its median rises by more than \(Format.significant(thresholds.latencyRise * 100)) %.</sub>\n"
        return md
    }

    /// Text for an XML attribute or element.
    static func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default:
                // XML 1.0 allows no other control characters at all.
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { out += "\u{FFFD}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// Text for a Markdown table cell: no pipe or newline can break the row.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
