import Foundation
import Support

/// Builds the alert conditions that hold for verdicts, conflicts and feeds.
public enum AlertConditions {
    /// A missed or at-risk verdict's condition (nil for other statuses).
    public static func verdict(_ v: Verdict, indicator: Indicator, language: PlanLanguage = .en) -> AlertCondition? {
        let kind: AlertKind
        switch v.status {
        case .missed: kind = .targetMissed
        case .atRisk: kind = .targetAtRisk
        case .met, .onTrack, .noData, .awaitingTarget: return nil
        }
        return AlertCondition(
            key: "\(v.plan)/\(v.indicator)/\(v.year)/\(kind.rawValue)", kind: kind, severity: v.severity ?? .warning,
            verdict: v, indicator: indicator, language: language)
    }

    /// The details of a verdict's alert (its log line's subject fields).
    static func details(_ v: Verdict, indicator: Indicator) -> JSONValue {
        let target = indicator.targets.first { $0.year == v.year }
        return JSONValue.object(
            [
                ("plan", .string(v.plan)), ("indicator", .string(v.indicator)), ("name", .string(indicator.name)),
                ("name_en", .optional(indicator.nameEN)), ("year", .int(v.year)),
                ("period", .optional(v.period?.description)), ("cumulative", .bool(v.cumulative)), ("rule", .string(v.rule.rawValue)),
                ("measure", .optional(v.measure?.rawValue)), ("actual", v.actual.map(JSONValue.figure) ?? .null),
                ("threshold", v.threshold.map(JSONValue.figure) ?? .null),
                ("shortfall", v.shortfall.map(JSONValue.figure) ?? .null), ("unit", .optional(v.unit)),
                ("feed", .optional(v.feed)), ("derived", .bool(v.derived)), ("target", .optional(target?.text)),
            ]
                + (v.pace?.json ?? []))
    }

    /// e.g. `地区生产总值 2022: growth 3.0% below target 6.0% (short by 3.0 pp)`.
    public static func message(_ v: Verdict, name: String, language: PlanLanguage = .en) -> String {
        let base = plainMessage(v, name: name)
        guard let pace = PaceText.phrase(v, language: language) else { return base }
        return base + (language == .zh ? "；" : "; ") + pace
    }

    private static func plainMessage(_ v: Verdict, name: String) -> String {
        guard let actual = v.actual, let threshold = v.threshold, let shortfall = v.shortfall else {
            return "\(name) \(v.year): \(v.status.rawValue)"
        }
        let percent = v.unit == "%"
        func show(_ f: Figure) -> String { percent ? "\(f)%" : "\(f) \(v.unit ?? "")".trimmingCharacters(in: " ") }
        let gap = percent ? "\(shortfall) pp" : show(shortfall)
        let what = v.measure == .changeVsBase ? "change vs base" : (v.measure?.rawValue ?? "value")
        var period = "\(v.year)"
        if v.cumulative, let p = v.period { period = "\(p) year to date" }
        let phrase: String
        switch v.rule {
        case .growthPositive: phrase = "\(what) \(show(actual)) is not positive (short by \(gap))"
        case .declineAtLeast, .declineVsBaseAtLeast:
            phrase = "\(what) \(show(actual)) short of a decline to \(show(threshold)) (short by \(gap))"
        case .atMost: phrase = "\(what) \(show(actual)) above the limit \(show(threshold)) (over by \(gap))"
        case .belowPrevious: phrase = "\(what) \(show(actual)) not below the previous year's \(show(threshold))"
        case .moreThan: phrase = "\(what) \(show(actual)) not more than \(show(threshold)) (short by \(gap))"
        case .averageGrowthAtLeast:
            phrase = "average yearly growth \(show(actual)) below target \(show(threshold)) (short by \(gap))"
        case .growthAtLeast, .atLeast, .assigned:
            phrase = "\(what) \(show(actual)) below target \(show(threshold)) (short by \(gap))"
        }
        let derived = v.derived ? " (derived from levels)" : ""
        return "\(name) \(period): \(phrase)\(derived)"
    }

    /// A figure overdue: due (in the plan's time zone) and past its grace, nothing published.
    public static func overdue(_ o: OverdueFigure, plan: Plan, indicator: Indicator, now: Date) -> AlertCondition {
        let due = ReleaseSchedule.localText(o.due, zone: plan.zone)
        let days = Int(now.timeIntervalSince(o.due) / 86_400)
        return AlertCondition(
            key: "\(plan.id)/\(indicator.code)/\(o.period)/\(AlertKind.dataOverdue.rawValue)", kind: .dataOverdue, severity: .warning,
            details: .object([
                ("plan", .string(plan.id)), ("indicator", .string(indicator.code)), ("name", .string(indicator.name)),
                ("name_en", .optional(indicator.nameEN)), ("period", .string(o.period.description)),
                ("due", .string(Timestamp.string(o.due))), ("timezone", .string(plan.timeZone)),
            ]),
            message: plan.language == .zh
                ? "\(indicator.name) \(o.period) 数据应于 \(due) 发布，至今未见（已逾期 \(days) 天）"
                : "\(indicator.name) \(o.period): figure due \(due) not published (\(days) days overdue)")
    }

    /// A condition for feeds disagreeing on one figure.
    public static func conflict(_ c: SourceConflict, plan: String, indicator: Indicator?) -> AlertCondition {
        var key = "\(plan)/\(c.key.indicator)/\(c.key.period)\(c.key.cumulative ? "-ytd" : "")/\(c.key.measure.rawValue)"
        if let base = c.key.baseYear { key += "-\(base)" }
        key += "/source_conflict"
        let others = c.others.map { "\($0.feed) \($0.value)" }.joined(separator: ", ")
        let details = JSONValue.object([
            ("plan", .string(plan)), ("indicator", .string(c.key.indicator)), ("name", .optional(indicator?.name)),
            ("name_en", .optional(indicator?.nameEN)), ("year", .int(c.key.period.year)),
            ("period", .string(c.key.period.description)), ("cumulative", .bool(c.key.cumulative)),
            ("measure", .string(c.key.measure.rawValue)), ("feed", .string(c.winner.feed)),
            ("value", .figure(c.winner.value)),
            ("others", .array(c.others.map { .object([("feed", .string($0.feed)), ("value", .figure($0.value))]) })),
        ])
        let name = indicator?.name ?? c.key.indicator
        return AlertCondition(
            key: key, kind: .sourceConflict, severity: .warning, details: details,
            message: "\(name) \(c.key.period) \(c.key.measure): feeds disagree — \(c.winner.feed) \(c.winner.value) (used, highest priority) vs \(others)")
    }

    /// A feed that failed `failures` cycles in a row (≥ its `failing_after`).
    public static func feedFailing(feed: String, plan: String, failures: Int, lastError: String?) -> AlertCondition {
        AlertCondition(
            key: "feed/\(feed)/feed_failing", kind: .feedFailing, severity: .warning,
            details: .object([
                ("plan", .string(plan)), ("feed", .string(feed)), ("consecutive_failures", .int(failures)),
                ("error", .optional(lastError)),
            ]),
            message: "feed \(feed) failed \(failures) times in a row\(lastError.map { ": \($0)" } ?? "")")
    }

    /// A feed without a successful fetch for longer than its `stale_after`.
    public static func feedStale(feed: String, plan: String, lastSuccess: String?, staleAfter: String) -> AlertCondition {
        AlertCondition(
            key: "feed/\(feed)/feed_stale", kind: .feedStale, severity: .critical,
            details: .object([
                ("plan", .string(plan)), ("feed", .string(feed)), ("last_success", .optional(lastSuccess)),
                ("stale_after", .string(staleAfter)),
            ]),
            message:
                "feed \(feed) has had no successful fetch for more than \(staleAfter)\(lastSuccess.map { " (last success \($0))" } ?? " (never succeeded)")")
    }

    /// A notification sink failing: `failures` attempts in a row, or `failedEvents` events it
    /// refused or that were given up since it last took one.
    public static func sinkFailing(sink: String, failures: Int, failedEvents: Int, lastError: String?) -> AlertCondition {
        var why: [String] = []
        if failures > 0 { why.append("\(failures) failed attempts in a row") }
        if failedEvents > 0 { why.append("\(failedEvents) events not delivered for good") }
        return AlertCondition(
            key: "sink/\(sink)/sink_failing", kind: .sinkFailing, severity: .warning,
            details: .object([
                ("sink", .string(sink)), ("failures", .int(failures)), ("failed_events", .int(failedEvents)),
                ("last_error", .optional(lastError)),
            ]),
            message: "notification sink \(sink) is failing: \(why.joined(separator: ", "))\(lastError.map { " (\($0))" } ?? "")")
    }
}
