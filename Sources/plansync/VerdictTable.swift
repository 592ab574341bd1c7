import Mirror
import PlanCore

/// Renders verdicts as an aligned text table a planning officer can read.
enum VerdictTable {
    static func render(_ verdicts: [Verdict], plan: Plan) -> String {
        var rows: [[String]] = [["indicator", "name", "year", "status", "actual", "target", "short by", "period", "feed"]]
        // The pace column only when a verdict has pace arithmetic (in-year or before a multi-year target's year).
        let withPace = verdicts.contains { $0.pace != nil }
        if withPace { rows[0].append("pace") }
        for v in verdicts {
            let indicator = plan.indicator(v.indicator)
            let unit = v.unit ?? ""
            let suffix = unit == "%" ? "%" : unit.isEmpty ? "" : " \(unit)"
            var actual = v.actual.map { "\(v.measure.map { "\($0) " } ?? "")\($0)\(suffix)" } ?? "—"
            if v.derived { actual += " (derived)" }
            var shortfall = "—"
            if let s = v.shortfall, v.status == .missed || v.status == .atRisk {
                shortfall = unit == "%" ? "\(s) pp" : "\(s)\(suffix)"
            }
            var period = v.period.map(\.description) ?? "—"
            if v.cumulative { period += " YTD" }
            var feed = v.feed ?? "—"
            if !v.conflicts.isEmpty {
                feed += " (conflict: " + v.conflicts.flatMap(\.others).map { "\($0.feed) \($0.value)" }.joined(separator: ", ") + ")"
            }
            rows.append([
                v.indicator, indicator?.name ?? "", String(v.year), label(v), actual, target(v, suffix: suffix),
                shortfall, period, feed,
            ])
            if withPace { rows[rows.count - 1].append(PaceText.phrase(v, language: plan.language) ?? "") }
        }
        return align(rows)
    }

    /// One line for a plan whose verdicts were not judged again, e.g. `unchanged since
    /// 2026-12-01T06:00:00Z: 4 met, 6 missed (--all shows the table)`.
    static func summary(_ s: PlanVerdictSummary?) -> String {
        guard let s, !s.counts.isEmpty else { return "no verdicts yet" }
        let counts = VerdictStatus.allCases.compactMap { status in
            s.counts[status].map { "\($0) \(status.rawValue.replacingOccurrences(of: "_", with: " "))" }
        }
        return "unchanged since \(s.judgedAt ?? "?"): " + counts.joined(separator: ", ") + " (--all shows the table)"
    }

    static func label(_ v: Verdict) -> String {
        switch v.status {
        case .met: "met"
        case .missed: v.severity == .critical ? "MISSED (critical)" : "MISSED"
        case .onTrack: "on track"
        case .atRisk: v.severity == .critical ? "AT RISK (critical)" : "AT RISK"
        case .noData: "no data"
        case .awaitingTarget: "awaiting target"
        }
    }

    static func target(_ v: Verdict, suffix: String) -> String {
        let t = v.threshold.map { "\($0)\(suffix)" } ?? ""
        switch v.rule {
        case .growthAtLeast, .atLeast: return "≥ \(t)"
        case .growthPositive, .moreThan: return "> \(t)"
        case .declineAtLeast, .atMost, .declineVsBaseAtLeast: return "≤ \(t)"
        case .averageGrowthAtLeast: return "≥ \(t) a year"
        case .belowPrevious: return v.threshold == nil ? "below previous year" : "< \(t)"
        case .assigned: return "set by higher authority"
        }
    }

    /// Pads columns by display width (CJK characters count two).
    /// Cells may hold text from feeds: control characters and bidi overrides are shown escaped.
    /// - Parameter minimumWidths: columns are at least this wide (blocks of a streamed table).
    static func align(_ rows: [[String]], minimumWidths: [Int] = []) -> String {
        let rows = rows.map { $0.map { DisplayText.terminal($0) } }
        let columns = rows.map(\.count).max() ?? 0
        var widths = (0..<columns).map { $0 < minimumWidths.count ? minimumWidths[$0] : 0 }
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], displayWidth(cell)) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - displayWidth(cell))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Terminal columns a string takes (East Asian wide characters take two).
    static func displayWidth(_ text: String) -> Int { DisplayText.width(text) }
}
