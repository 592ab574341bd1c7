import Foundation
import Support

/// A firing alert someone acknowledged with an explanation (情况说明): it keeps firing but is
/// not notified again while it stays the same or improves (docs/acknowledgements.md).
public struct Acknowledgement: Sendable, Equatable {
    public var id: Int
    public var key: String
    public var by: String
    public var note: String
    public var since: Date
    /// Ends at this time, if set.
    public var until: Date?
    /// Ends when a new figure of the alert's indicator arrives.
    public var untilNextRelease: Bool
    /// What was acknowledged: the alert's severity and shortfall (for telling "worse").
    public var severity: Severity
    public var shortfall: Figure?
    public var unit: String?
    /// The newest `first_fetch_id` among the indicator's figures when acknowledged.
    public var figuresMark: Int

    public init(
        id: Int, key: String, by: String, note: String, since: Date, until: Date?, untilNextRelease: Bool, severity: Severity,
        shortfall: Figure?, unit: String?, figuresMark: Int
    ) {
        self.id = id
        self.key = key
        self.by = by
        self.note = note
        self.since = since
        self.until = until
        self.untilNextRelease = untilNextRelease
        self.severity = severity
        self.shortfall = shortfall
        self.unit = unit
        self.figuresMark = figuresMark
    }

    /// The `ack` member of alert log lines and answers.
    public func json(ended: (at: Date, reason: String, by: String?)? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .int(id)), ("by", .string(by)), ("note", .string(note)), ("since", .string(Timestamp.string(since))),
            ("until", .optional(until.map(Timestamp.string))), ("until_next_release", .bool(untilNextRelease)),
        ]
        if let ended {
            members += [
                ("ended_at", .string(Timestamp.string(ended.at))), ("end_reason", .string(ended.reason)), ("ended_by", .optional(ended.by)),
            ]
        }
        return .object(members)
    }

    /// Why `condition` (the same key, firing now) is worse than what was acknowledged, or nil:
    /// its severity rose, or its shortfall grew by more than `tolerance` — percentage points for
    /// a percentage, else that percent of the acknowledged shortfall (0: any growth).
    public func worsening(_ condition: AlertCondition, tolerance: Figure) -> String? {
        if condition.severity > severity { return "severity rose from \(severity.rawValue) to \(condition.severity.rawValue)" }
        guard let before = shortfall, case .number(let text)? = condition.details["shortfall"], let now = Figure(text) else { return nil }
        let growth = now.value - before.value
        guard growth > 0 else { return nil }
        let allowed = unit == "%" ? tolerance.value : abs(before.value) * tolerance.value / 100
        guard growth > allowed else { return nil }
        let shown = unit == "%" ? "\(before) to \(now) pp" : "\(before) to \(now)\(unit.map { " \($0)" } ?? "")"
        return "shortfall grew from \(shown)"
    }
}

/// Alerts muted for a while (a feed down for maintenance, a plan under revision): recorded as
/// usual, not notified. Each list that is given must match (any of its values); an alert
/// matches a silence when every given list does.
public struct Silence: Sendable, Equatable {
    public var id: Int
    public var plans: [String]
    public var indicators: [String]
    public var alerts: [String]
    public var feeds: [String]
    public var until: Date
    public var note: String
    public var by: String
    public var createdAt: Date

    public init(
        id: Int, plans: [String], indicators: [String], alerts: [String], feeds: [String], until: Date, note: String, by: String,
        createdAt: Date
    ) {
        self.id = id
        self.plans = plans
        self.indicators = indicators
        self.alerts = alerts
        self.feeds = feeds
        self.until = until
        self.note = note
        self.by = by
        self.createdAt = createdAt
    }

    /// Whether the alert of `kind` with these details (its log line's subject fields) matches.
    public func matches(kind: AlertKind, details: JSONValue) -> Bool {
        func field(_ name: String) -> String? {
            switch details[name] {
            case .string(let s)?: s
            case .number(let n)?: n
            default: nil
            }
        }
        if !alerts.isEmpty, !alerts.contains(kind.rawValue) { return false }
        for (values, name) in [(plans, "plan"), (indicators, "indicator"), (feeds, "feed")] where !values.isEmpty {
            guard let value = field(name), values.contains(value) else { return false }
        }
        return true
    }

    /// What a muted event's `muted` member says.
    public var mutedText: String { "silence \(id)" }

    /// The silence as JSON (`/v1/silences`).
    public func json(ended: (at: Date, reason: String, by: String?)? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .int(id)), ("plans", .array(plans.map(JSONValue.string))), ("indicators", .array(indicators.map(JSONValue.string))),
            ("alerts", .array(alerts.map(JSONValue.string))), ("feeds", .array(feeds.map(JSONValue.string))),
            ("until", .string(Timestamp.string(until))), ("note", .string(note)), ("by", .string(by)),
            ("created_at", .string(Timestamp.string(createdAt))),
        ]
        if let ended {
            members += [
                ("ended_at", .string(Timestamp.string(ended.at))), ("end_reason", .string(ended.reason)), ("ended_by", .optional(ended.by)),
            ]
        }
        return .object(members)
    }
}
