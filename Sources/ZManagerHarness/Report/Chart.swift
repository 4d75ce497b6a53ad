import Foundation

// The chart primitives every chart of `report.html` is drawn with: axes, lines, markers,
// legends and the SVG they render to.

/// Series colours, distinguishable on white and for the common colour-vision deficiencies first.
enum Palette {
    static let colors = ["#1f6fb4", "#e3620c", "#2a9d3c", "#c9243f", "#7b4fb8", "#8c564b", "#d6479e", "#12a3b4",
                         "#6b6b6b", "#a4a400"]

    static func color(_ index: Int) -> String { colors[index % colors.count] }
}

enum MarkerShape: Int, CaseIterable, Sendable {
    case circle, square, triangle, diamond, cross

    static func shape(_ index: Int) -> MarkerShape { allCases[index % allCases.count] }

    /// An SVG element centred on (x, y).
    func svg(x: Double, y: Double, color: String, hollow: Bool, title: String?) -> String {
        let fill = hollow ? "#ffffff" : color
        let paint = "fill=\"\(fill)\" stroke=\"\(color)\" stroke-width=\"1.4\""
        let tooltip = title.map { "<title>\(HTML.escape($0))</title>" } ?? ""
        let element: String
        switch self {
        case .circle:
            element = "<circle cx=\"\(SVG.n(x))\" cy=\"\(SVG.n(y))\" r=\"3.6\" \(paint)>\(tooltip)</circle>"
        case .square:
            element = "<rect x=\"\(SVG.n(x - 3.3))\" y=\"\(SVG.n(y - 3.3))\" width=\"6.6\" height=\"6.6\" \(paint)>\(tooltip)</rect>"
        case .triangle:
            element = "<path d=\"M\(SVG.n(x)) \(SVG.n(y - 4.4))L\(SVG.n(x + 4)) \(SVG.n(y + 3))L\(SVG.n(x - 4)) \(SVG.n(y + 3))Z\" \(paint)>\(tooltip)</path>"
        case .diamond:
            element = "<path d=\"M\(SVG.n(x)) \(SVG.n(y - 4.6))L\(SVG.n(x + 4.2)) \(SVG.n(y))L\(SVG.n(x)) \(SVG.n(y + 4.6))L\(SVG.n(x - 4.2)) \(SVG.n(y))Z\" \(paint)>\(tooltip)</path>"
        case .cross:
            element = "<path d=\"M\(SVG.n(x - 3.6)) \(SVG.n(y - 3.6))L\(SVG.n(x + 3.6)) \(SVG.n(y + 3.6))M\(SVG.n(x - 3.6)) \(SVG.n(y + 3.6))L\(SVG.n(x + 3.6)) \(SVG.n(y - 3.6))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\">\(tooltip)</path>"
        }
        return element
    }
}

enum SVG {
    /// A coordinate with one decimal.
    static func n(_ value: Double) -> String { String(format: "%.1f", value) }
}

struct ChartAxis: Sendable {
    enum Scale: Sendable { case linear, log }

    struct Tick: Sendable {
        var value: Double
        var label: String
    }

    var scale: Scale
    var lower: Double
    var upper: Double
    var ticks: [Tick]
    var title: String

    /// Where `value` falls between `lower` (0) and `upper` (1), clamped.
    func fraction(_ value: Double) -> Double {
        let result: Double
        switch scale {
        case .linear:
            result = upper > lower ? (value - lower) / (upper - lower) : 0.5
        case .log:
            let low = log10(lower), high = log10(upper)
            result = high > low ? (log10(max(value, lower)) - low) / (high - low) : 0.5
        }
        return result.isFinite ? min(max(result, 0), 1) : 0
    }

    /// A log axis over `values` (positive ones) with bounds on the 1-2-5 sequence; decade ticks,
    /// plus 2 and 5 when the axis spans less than three decades.
    static func logarithmic(_ values: [Double], title: String, label: (Double) -> String) -> ChartAxis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        let low = positive.min() ?? 1, high = positive.max() ?? 10
        let steps: [Double] = [1, 2, 5]
        func below(_ v: Double) -> Double {
            let decade = pow(10, floor(log10(v)))
            return steps.reversed().map { $0 * decade }.first { $0 <= v * 1.000001 } ?? decade
        }
        func above(_ v: Double) -> Double {
            let decade = pow(10, floor(log10(v)))
            return (steps + [10]).map { $0 * decade }.first { $0 >= v * 0.999999 } ?? decade * 10
        }
        var lower = below(low), upper = above(high)
        if upper <= lower { upper = above(lower * 1.5) }
        if upper / lower < 4 { lower = below(lower / 1.5); upper = above(upper * 1.5) }
        let dense = log10(upper / lower) < 3
        var ticks: [Tick] = []
        var decade = pow(10, floor(log10(lower)))
        while decade <= upper * 1.000001 {
            for step in dense ? steps : [1] {
                let value = step * decade
                if value >= lower * 0.999999 && value <= upper * 1.000001 { ticks.append(Tick(value: value, label: label(value))) }
            }
            decade *= 10
        }
        return ChartAxis(scale: .log, lower: lower, upper: upper, ticks: ticks, title: title)
    }

    /// A linear axis from zero to a round number above `values`, about five ticks.
    static func linearFromZero(_ values: [Double], title: String, label: (Double) -> String) -> ChartAxis {
        let high = max(values.filter(\.isFinite).max() ?? 1, 1e-9)
        let raw = high / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let upper = ceil(high / step * 0.999999) * step
        let ticks = stride(from: 0, through: upper * 1.000001, by: step).map { Tick(value: $0, label: label($0)) }
        return ChartAxis(scale: .linear, lower: 0, upper: upper, ticks: ticks, title: title)
    }

    /// Log axis when the values span more than `ratio`, linear from zero otherwise.
    static func automatic(_ values: [Double], ratio: Double = 10, title: String, label: (Double) -> String) -> ChartAxis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        if let low = positive.min(), let high = positive.max(), high / low > ratio {
            return logarithmic(positive, title: title, label: label)
        }
        return linearFromZero(values, title: title, label: label)
    }

    /// Integer categories (worker counts): one tick per value, half a step of margin.
    static func discrete(_ values: [Int], title: String) -> ChartAxis {
        let distinct = Set(values).sorted()
        let low = Double(distinct.first ?? 0), high = Double(distinct.last ?? 1)
        let margin = max((high - low) * 0.08, 0.5)
        return ChartAxis(scale: .linear, lower: low - margin, upper: high + margin,
                         ticks: distinct.map { Tick(value: Double($0), label: String($0)) }, title: title)
    }

    /// HdrHistogram's percentile axis: 1 / (1 − p) on a log scale, from 0 % to the highest
    /// percentile plotted, with one more decade labelled "max" when the curves reach 100 %.
    static func percentile(maxFinite: Double, hasMaximum: Bool) -> ChartAxis {
        let decades = max(2, Int(ceil(log10(max(maxFinite, 1)) - 1e-6)))
        let top = hasMaximum ? decades + 1 : decades
        var ticks: [Tick] = []
        for decade in 0...top {
            let label: String
            if hasMaximum && decade == top {
                label = "max"
            } else if decade == 0 {
                label = "0%"
            } else if decade == 1 {
                label = "90%"
            } else {
                label = "99" + (decade > 2 ? "." + String(repeating: "9", count: decade - 2) : "") + "%"
            }
            ticks.append(Tick(value: pow(10, Double(decade)), label: label))
        }
        return ChartAxis(scale: .log, lower: 1, upper: pow(10, Double(top)), ticks: ticks, title: "percentile")
    }
}

struct ChartPoint: Sendable {
    var x: Double
    var y: Double
    var tooltip: String? = nil
    /// Drawn with a red ring (a target rate not reached).
    var flagged: Bool = false
    /// The spread of the repeats (lowest, highest), drawn as a vertical error bar.
    var spread: (low: Double, high: Double)? = nil
}

struct ChartLine: Sendable {
    var points: [ChartPoint]
    var color: String
    var dash: String? = nil
    var width: Double = 2
    var opacity: Double = 1
    var cssClass: String
    var title: String
    var marker: MarkerShape? = nil
    var hollowMarkers: Bool = false
}

struct LegendEntry: Sendable {
    var label: String
    var color: String
    var dash: String? = nil
    var marker: MarkerShape? = nil
}

struct Chart: Sendable {
    static let width = 640.0, height = 380.0
    static let left = 74.0, right = 34.0, top = 14.0, bottom = 50.0

    var caption: String
    var x: ChartAxis
    var y: ChartAxis
    var lines: [ChartLine]
    var legend: [LegendEntry]

    func html() -> String {
        var html = "<figure>\n<figcaption>\(HTML.escape(caption))</figcaption>\n"
        html += svg()
        html += "<ul class=\"legend\">\n"
        for entry in legend {
            html += "<li>\(ChartBuilder.swatch(color: entry.color, dash: entry.dash, marker: entry.marker))\(HTML.escape(entry.label))</li>\n"
        }
        return html + "</ul>\n</figure>\n"
    }

    func svg() -> String {
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        func px(_ value: Double) -> Double { Self.left + x.fraction(value) * plotWidth }
        func py(_ value: Double) -> Double { Self.top + (1 - y.fraction(value)) * plotHeight }

        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" "
            + "width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\" role=\"img\" aria-label=\"\(HTML.escape(caption))\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\" fill=\"#ffffff\"/>\n"
        // Grid and tick labels.
        svg += "<g font-size=\"11\" fill=\"#444444\">\n"
        for tick in x.ticks {
            let position = px(tick.value)
            svg += "<line x1=\"\(SVG.n(position))\" y1=\"\(SVG.n(Self.top))\" x2=\"\(SVG.n(position))\" y2=\"\(SVG.n(Self.top + plotHeight))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(SVG.n(position))\" y=\"\(SVG.n(Self.top + plotHeight + 16))\" text-anchor=\"middle\">\(HTML.escape(tick.label))</text>\n"
        }
        for tick in y.ticks {
            let position = py(tick.value)
            svg += "<line x1=\"\(SVG.n(Self.left))\" y1=\"\(SVG.n(position))\" x2=\"\(SVG.n(Self.left + plotWidth))\" y2=\"\(SVG.n(position))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(SVG.n(Self.left - 6))\" y=\"\(SVG.n(position + 4))\" text-anchor=\"end\">\(HTML.escape(tick.label))</text>\n"
        }
        svg += "</g>\n"
        svg += "<rect x=\"\(SVG.n(Self.left))\" y=\"\(SVG.n(Self.top))\" width=\"\(SVG.n(plotWidth))\" height=\"\(SVG.n(plotHeight))\" fill=\"none\" stroke=\"#9a9a9a\"/>\n"
        // Axis titles.
        svg += "<text x=\"\(SVG.n(Self.left + plotWidth / 2))\" y=\"\(SVG.n(Self.height - 10))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222222\">\(HTML.escape(x.title))</text>\n"
        let middle = Self.top + plotHeight / 2
        svg += "<text x=\"16\" y=\"\(SVG.n(middle))\" transform=\"rotate(-90 16 \(SVG.n(middle)))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222222\">\(HTML.escape(y.title))</text>\n"
        // Lines, then markers on top.
        for line in lines where !line.points.isEmpty {
            let coordinates = line.points.map { "\(SVG.n(px($0.x))),\(SVG.n(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"\(line.cssClass)\" points=\"\(coordinates)\" fill=\"none\" stroke=\"\(line.color)\" "
                + "stroke-width=\"\(SVG.n(line.width))\" stroke-linejoin=\"round\" stroke-linecap=\"round\""
                + (line.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")
                + (line.opacity < 1 ? " stroke-opacity=\"\(SVG.n(line.opacity))\"" : "")
                + "><title>\(HTML.escape(line.title))</title></polyline>\n"
        }
        for line in lines {
            for point in line.points {
                guard let spread = point.spread, spread.high > spread.low else { continue }
                let cx = px(point.x), low = py(spread.low), high = py(spread.high)
                svg += "<g class=\"errorbar\" stroke=\"\(line.color)\" stroke-width=\"1.2\"><title>\(HTML.escape("repeats: \(Format.rate(spread.low))–\(Format.rate(spread.high))"))</title>"
                    + "<line x1=\"\(SVG.n(cx))\" y1=\"\(SVG.n(low))\" x2=\"\(SVG.n(cx))\" y2=\"\(SVG.n(high))\"/>"
                    + "<line x1=\"\(SVG.n(cx - 4))\" y1=\"\(SVG.n(low))\" x2=\"\(SVG.n(cx + 4))\" y2=\"\(SVG.n(low))\"/>"
                    + "<line x1=\"\(SVG.n(cx - 4))\" y1=\"\(SVG.n(high))\" x2=\"\(SVG.n(cx + 4))\" y2=\"\(SVG.n(high))\"/></g>\n"
            }
        }
        for line in lines {
            guard let marker = line.marker else { continue }
            for point in line.points {
                let cx = px(point.x), cy = py(point.y)
                if point.flagged {
                    svg += "<circle cx=\"\(SVG.n(cx))\" cy=\"\(SVG.n(cy))\" r=\"8\" fill=\"none\" stroke=\"#d00000\" stroke-width=\"2\"/>"
                }
                svg += marker.svg(x: cx, y: cy, color: line.color, hollow: line.hollowMarkers, title: point.tooltip) + "\n"
            }
        }
        return svg + "</svg>\n"
    }
}
