import Foundation
import Mirror
import PlanCore

/// A small inline SVG chart of one indicator: its outcome per period over the years shown,
/// the target bound of each year, revised values (the earlier value faint) and values other
/// feeds disagree with. Drawn with classes only (the report's stylesheet colours them), in
/// whole pixels, and compact: a province's report holds thousands of them.
struct Chart {
    struct Point {
        var x: Double
        var value: Double
        var text: String
        var period: Period
    }

    let measure: Measure
    let baseYear: Int?
    let unit: String
    let years: ClosedRange<Int>
    /// Lines broken at each year (year-to-date figures start again in January).
    var series: [[Point]] = []
    var earlier: [(point: Point, value: Double, text: String)] = []
    var conflicts: [(point: Point, value: Double, text: String, feed: String)] = []
    var targets: [(year: Int, value: Double)] = []

    static let width = 340.0, height = 150.0
    static let left = 46.0, right = 8.0, top = 18.0, bottom = 30.0

    /// The chart of `row`, or nil when it has no figure in the measure its targets compare.
    init?(_ row: AnnexRow, shownYears: [Int]) {
        let rules = row.cells.compactMap(\.target?.rule)
        // The measure most targets compare; for rules without one, what the figures have.
        var counts: [Measure: Int] = [:]
        for rule in rules { if let m = rule.measure { counts[m, default: 0] += 1 } }
        let available = Set(row.observations.map(\.measure))
        guard
            let measure = counts.max(by: { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) })?.key
                ?? [Measure.growth, .level, .changeVsBase].first(where: available.contains)
        else { return nil }
        let baseYear = measure == .changeVsBase ? rules.compactMap(\.baseYear).first : nil
        let figures = row.observations.filter {
            $0.measure == measure && $0.period.isJudgeable && (measure != .changeVsBase || $0.baseYear == baseYear)
        }
        guard !figures.isEmpty else { return nil }
        let shown = Set(shownYears)
        let present = figures.map(\.period.year).filter { shownYears.count != 1 || shown.contains($0) } + shownYears
        guard let first = present.min(), let last = present.max() else { return nil }
        self.measure = measure
        self.baseYear = baseYear
        self.unit = measure == .level ? row.indicator.unit : "%"
        self.years = first...last
        // Year-to-date figures win over single periods where both exist (judging reads them).
        let cumulativeByPeriod = Set(figures.filter(\.cumulative).map(\.period.ordinal))
        var byPeriod: [Int: [ReportObservation]] = [:]
        for o in figures where years.contains(o.period.year) && (o.cumulative || o.period.isFullYear || !cumulativeByPeriod.contains(o.period.ordinal)) {
            byPeriod[o.period.ordinal, default: []].append(o)
        }
        var line: [Point] = []
        var lineYear: Int?
        for ordinal in byPeriod.keys.sorted() {
            let group = byPeriod[ordinal]!  // highest priority first (the mirror's order)
            let winner = group[0]
            guard let value = Double(winner.value) else { continue }
            let point = Point(x: Chart.x(winner.period), value: value, text: winner.value, period: winner.period)
            if lineYear != winner.period.year, !line.isEmpty {
                series.append(line)
                line = []
            }
            lineYear = winner.period.year
            line.append(point)
            for revision in winner.revisions where revision.value != winner.value {
                if let old = Double(revision.value) { earlier.append((point, old, revision.value)) }
            }
            for other in group.dropFirst() where other.value != winner.value && Figure(other.value) != Figure(winner.value) {
                if let v = Double(other.value) { conflicts.append((point, v, other.value, other.feed)) }
            }
        }
        if !line.isEmpty { series.append(line) }
        for cell in row.cells {
            guard let rule = cell.target?.rule, rule.measure == measure, years.contains(cell.year) else { continue }
            let bound = (cell.verdict?.period?.isFullYear ?? true ? cell.verdict?.threshold : nil) ?? ReportText.bound(rule)
            if let bound, rule.kind != .averageGrowthAtLeast { targets.append((cell.year, bound.doubleValue)) }
        }
    }

    /// A period's place on the time axis, in years: the middle of its last month (a year's
    /// figure sits at the end of its year's band, beside December's year to date).
    static func x(_ period: Period) -> Double { Double(period.year) + (Double(period.endMonth) - 0.5) / 12 }

    /// The SVG element, with `title` as its accessible name.
    func svg(title: String, labels: ReportLabels) -> String {
        let values = series.flatMap { $0.map(\.value) } + earlier.map(\.value) + conflicts.map(\.value) + targets.map(\.value)
        let (low, high, step) = Chart.ticks(values.min() ?? 0, values.max() ?? 1)
        let plotW = Chart.width - Chart.left - Chart.right, plotH = Chart.height - Chart.top - Chart.bottom
        let x0 = Double(years.lowerBound), span = Double(years.count)
        func px(_ x: Double) -> Int { Int((Chart.left + (x - x0) / span * plotW).rounded()) }
        func py(_ v: Double) -> Int { Int((Chart.top + (high - v) / (high - low) * plotH).rounded()) }
        var out = "<svg class=ch viewBox=\"0 0 \(Int(Chart.width)) \(Int(Chart.height))\" role=img aria-label=\"\(HTML.escape(title))\">"
        out += "<title>\(HTML.escape(title))</title>"
        // Axes, y ticks with grid lines, year bands.
        let bottomY = py(low), topY = py(high)
        out += "<path class=ax d=\"M\(px(x0)) \(topY)V\(bottomY)H\(px(x0 + span))\"/>"
        var grid = ""
        var tick = low
        var tickText = ""
        while tick <= high + step / 2 {
            let y = py(tick)
            grid += "M\(px(x0)) \(y)h\(Int(plotW))"
            tickText += "<text class=yt x=\(Int(Chart.left) - 3) y=\(y + 3)>\(Chart.label(tick, step: step))</text>"
            tick += step
        }
        out += "<path class=gr d=\"\(grid)\"/>" + tickText
        for year in years {
            let mid = px(Double(year) + 0.5)
            out += "<text class=xt x=\(mid) y=\(bottomY + 12)>\(year)</text>"
            if year > years.lowerBound { out += "<path class=gr d=\"M\(px(Double(year))) \(topY)V\(bottomY)\"/>" }
        }
        let axisTitle = measure == .level ? unit : labels.measure(measure, baseYear: baseYear) + " %"
        out += "<text class=at x=4 y=10>\(HTML.escape(axisTitle))</text>"
        out +=
            "<text class=at x=\(px(x0 + span)) y=\(Int(Chart.height) - 4) text-anchor=end>"
            + (labels.zh ? "年份" : "year") + "</text>"
        // Target bounds: one dashed segment a year.
        if !targets.isEmpty {
            out += "<path class=tg d=\""
            for t in targets { out += "M\(px(Double(t.year))) \(py(t.value))H\(px(Double(t.year + 1)))" }
            out += "\"><title>\(labels.targetLine)</title></path>"
        }
        // Earlier values, faint, joined to the value that replaced them.
        for e in earlier {
            out += "<path class=rv d=\"M\(px(e.point.x)) \(py(e.value))V\(py(e.point.value))\"/>"
            out +=
                "<circle class=ro cx=\(px(e.point.x)) cy=\(py(e.value)) r=2.5><title>\(e.point.period) \(labels.earlier) \(HTML.escape(e.text))</title></circle>"
        }
        // The outcome: a line per year, and a dot per figure.
        for line in series {
            var d = ""
            var previous: (Int, Int)?
            for p in line {
                let (x, y) = (px(p.x), py(p.value))
                if let (lx, ly) = previous { d += "l\(x - lx) \(y - ly)" } else { d += "M\(x) \(y)" }
                previous = (x, y)
            }
            out += "<path class=ln d=\"\(d)\"/>"
        }
        let dots = series.joined()
        if dots.count <= 24 {
            for p in dots {
                out += "<circle class=pt cx=\(px(p.x)) cy=\(py(p.value)) r=2><title>\(p.period) \(HTML.escape(p.text))</title></circle>"
            }
        } else if let last = dots.last {
            out += "<circle class=pt cx=\(px(last.x)) cy=\(py(last.value)) r=2><title>\(last.period) \(HTML.escape(last.text))</title></circle>"
        }
        for e in earlier {
            out += "<circle class=rn cx=\(px(e.point.x)) cy=\(py(e.point.value)) r=3.5/>"
        }
        // Values other feeds publish for the same figure: hollow diamonds.
        for c in conflicts {
            let (x, y) = (px(c.point.x), py(c.value))
            out +=
                "<path class=cf d=\"M\(x) \(y - 4)l4 4-4 4-4-4z\"><title>\(c.point.period) \(HTML.escape(c.feed)) \(HTML.escape(c.text)) (\(labels.conflict))</title></path>"
        }
        return out + "</svg>"
    }

    /// Round tick marks covering `low`…`high`: the axis ends and the step.
    static func ticks(_ low: Double, _ high: Double) -> (Double, Double, Double) {
        var (low, high) = (low, high)
        if high - low < 1e-9 {
            let pad = Swift.max(1, Swift.abs(low) * 0.1)
            (low, high) = (low - pad, high + pad)
        }
        let raw = (high - low) / 4
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        return (floor(low / step) * step, ceil(high / step) * step, step)
    }

    /// A tick's text: as many decimals as the step needs.
    static func label(_ value: Double, step: Double) -> String {
        var decimals = 0
        while decimals < 6, Swift.abs((step * pow(10, Double(decimals))).rounded() - step * pow(10, Double(decimals))) > 1e-6 {
            decimals += 1
        }
        let v = Swift.abs(value) < step / 1000 ? 0 : value
        return String(format: "%.\(decimals)f", v)
    }
}
