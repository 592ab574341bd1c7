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
        // The plan's years (from the base year of a base-year target): the span its targets cover.
        guard let lastYear = shownYears.max(), let firstShown = shownYears.min() else { return nil }
        let first = min(firstShown, shownYears.count > 1 ? (rules.compactMap(\.baseYear).min() ?? firstShown) : firstShown)
        guard figures.contains(where: { (first...lastYear).contains($0.period.year) }) else { return nil }
        let last = lastYear
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

    /// The SVG element, with `title` as its accessible name. Compact: one path per kind of
    /// mark, relative moves, whole pixels (a province's report holds thousands of charts).
    func svg(title: String, labels: ReportLabels) -> String {
        let values = series.flatMap { $0.map(\.value) } + earlier.map(\.value) + conflicts.map(\.value) + targets.map(\.value)
        let (low, high, step) = Chart.ticks(values.min() ?? 0, values.max() ?? 1)
        let plotW = Chart.width - Chart.left - Chart.right, plotH = Chart.height - Chart.top - Chart.bottom
        let x0 = Double(years.lowerBound), span = Double(years.count)
        func px(_ x: Double) -> Int { Int((Chart.left + (x - x0) / span * plotW).rounded()) }
        func py(_ v: Double) -> Int { Int((Chart.top + (high - v) / (high - low) * plotH).rounded()) }
        var out = "<svg viewBox=\"0 0 \(Int(Chart.width)) \(Int(Chart.height))\" role=img><title>\(HTML.escape(title))</title>"
        // Axes; grid lines at the y ticks and between years; tick and year labels.
        let bottomY = py(low), topY = py(high), leftX = px(x0)
        out += "<path class=ax d=\"M\(leftX) \(topY)V\(bottomY)H\(px(x0 + span))\"/>"
        var grid = "", text = ""
        var tick = low
        while tick <= high + step / 2 {
            let y = py(tick)
            if y != bottomY { grid += "M\(leftX) \(y)h\(Int(plotW))" }
            text += "<text class=y x=\(leftX - 3) y=\(y + 3)>\(Chart.label(tick, step: step))</text>"
            tick += step
        }
        for year in years {
            if year > years.lowerBound { grid += "M\(px(Double(year))) \(topY)V\(bottomY)" }
            text += "<text x=\(px(Double(year) + 0.5)) y=\(bottomY + 12)>\(year)</text>"
        }
        out += "<path class=gr d=\"\(grid)\"/>" + text
        let axisTitle = measure == .level ? unit : labels.measure(measure, baseYear: baseYear) + " %"
        out += "<text class=a x=2 y=10>\(HTML.escape(axisTitle))</text>"
        // Target bounds: one dashed segment a year.
        if !targets.isEmpty {
            out += "<path class=tg d=\"" + targets.map { "M\(px(Double($0.year))) \(py($0.value))H\(px(Double($0.year + 1)))" }.joined() + "\"/>"
        }
        // The outcome: a line per year.
        for line in series {
            var d = ""
            var previous: (Int, Int)?
            for p in line {
                let (x, y) = (px(p.x), py(p.value))
                if let (lx, ly) = previous { d += "l\(x - lx)" + (y - ly < 0 ? "" : " ") + "\(y - ly)" } else { d += "M\(x) \(y)" }
                previous = (x, y)
            }
            out += "<path class=ln d=\"\(d)\"/>"
        }
        // A dot per figure when there are few, else the latest only.
        let all = Array(series.joined())
        let dotted = all.count <= 24 ? all : Array(all.suffix(1))
        if !dotted.isEmpty {
            out += "<path class=pt d=\"" + dotted.map { "M\(px($0.x)) \(py($0.value))h0" }.joined() + "\"><title>"
            out += HTML.escape(dotted.map { "\($0.period) \($0.text)" }.joined(separator: ", ")) + "</title></path>"
        }
        // Earlier values, faint, each joined to the value that replaced it.
        if !earlier.isEmpty {
            out += "<path class=rv d=\"" + earlier.map { "M\(px($0.point.x)) \(py($0.value))V\(py($0.point.value))" }.joined() + "\"/>"
            out += "<path class=ro d=\"" + earlier.map { "M\(px($0.point.x)) \(py($0.value))h0" }.joined() + "\"><title>"
            out += labels.earlier + ": " + HTML.escape(Chart.listed(earlier.map { "\($0.point.period) \($0.text)" })) + "</title></path>"
        }
        // Values other feeds publish for the same figure: hollow diamonds.
        if !conflicts.isEmpty {
            out += "<path class=cf d=\"" + conflicts.map { "M\(px($0.point.x)) \(py($0.value) - 4)l4 4-4 4-4-4z" }.joined() + "\"><title>"
            out += labels.conflict + ": " + HTML.escape(Chart.listed(conflicts.map { "\($0.point.period) \($0.feed) \($0.text)" }))
            out += "</title></path>"
        }
        return out + "</svg>"
    }

    /// The chart as a sparkline for a table row (several plans in one document): the outcome
    /// line and the target bounds only, 90 × 22 pixels, hidden from screen readers (the row
    /// says it in words).
    func sparkline() -> String {
        let values = series.flatMap { $0.map(\.value) } + targets.map(\.value)
        guard let low = values.min(), let high = values.max() else { return "" }
        let span = Double(years.count), x0 = Double(years.lowerBound), range = high - low < 1e-9 ? 1 : high - low
        func px(_ x: Double) -> Int { Int((1 + (x - x0) / span * 88).rounded()) }
        func py(_ v: Double) -> Int { Int((20 - (v - low) / range * 18).rounded()) }
        var out = "<svg viewBox=\"0 0 90 22\" aria-hidden=true>"
        if !targets.isEmpty {
            // One step line where years follow each other.
            var d = ""
            var end: (year: Int, y: Int)?
            for t in targets {
                let y = py(t.value)
                if let end, end.year == t.year {
                    if y != end.y { d += "V\(y)" }
                } else {
                    d += "M\(px(Double(t.year))) \(y)"
                }
                d += "H\(px(Double(t.year + 1)))"
                end = (t.year + 1, y)
            }
            out += "<path class=tg d=\"\(d)\"/>"
        }
        var d = ""
        for line in series {
            var previous: (Int, Int)?
            for p in line {
                let (x, y) = (px(p.x), py(p.value))
                if let (lx, ly) = previous {
                    if (x, y) != (lx, ly) { d += "l\(x - lx)" + (y - ly < 0 ? "" : " ") + "\(y - ly)" }
                } else {
                    d += "M\(x) \(y)"
                }
                previous = (x, y)
            }
        }
        out += "<path class=ln d=\"\(d)\"/>"
        if let last = series.last?.last { out += "<path class=pt d=\"M\(px(last.x)) \(py(last.value))h0\"/>" }
        return out + "</svg>"
    }

    /// At most twelve items, then how many more.
    static func listed(_ items: [String]) -> String {
        items.count <= 12 ? items.joined(separator: ", ") : items.prefix(12).joined(separator: ", ") + ", … (+\(items.count - 12))"
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
