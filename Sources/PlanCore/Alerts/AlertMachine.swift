/// The kinds of alert plansync raises (docs/alert-log.md).
public enum AlertKind: String, Sendable, CaseIterable {
    case targetAtRisk = "target_at_risk"
    case targetMissed = "target_missed"
    case feedFailing = "feed_failing"
    case feedStale = "feed_stale"
    case sourceConflict = "source_conflict"
    /// A notification sink failing: attempts failing in a row, or events refused or given up.
    case sinkFailing = "sink_failing"
    /// A figure past its release date and grace with nothing published for its period.
    case dataOverdue = "data_overdue"

    /// Kinds keyed `<plan>/...`, raised by judging a plan.
    public static let planScoped: Set<AlertKind> = [.targetAtRisk, .targetMissed, .sourceConflict, .dataOverdue]
    /// Kinds keyed `feed/<feed>/...`, raised by a feed's health.
    public static let feedScoped: Set<AlertKind> = [.feedFailing, .feedStale]
    /// Kinds keyed `sink/<sink>/...`, raised by a notification sink's health.
    public static let sinkScoped: Set<AlertKind> = [.sinkFailing]
}

/// `firing` when a condition starts to hold, `resolved` when it stops; the others record what
/// people did with a firing alert (docs/acknowledgements.md).
public enum AlertEventKind: String, Sendable, CaseIterable {
    case firing
    case resolved
    /// Someone acknowledged the alert (with a note): it is not notified again while that holds.
    case acknowledged
    /// Someone withdrew an acknowledgement while the alert fires.
    case unacknowledged
    /// An acknowledgement ran out (its time, or the indicator's next figure) while the alert fires.
    case ackExpired = "ack_expired"
    /// The alert got worse than what was acknowledged.
    case ackBroken = "ack_broken"
    /// A silence matching the alert ended while it fires.
    case silenceEnded = "silence_ended"

    /// Events that tell of an alert firing now (a notification sink shows them as firing).
    public var saysFiring: Bool { self != .resolved && self != .acknowledged }
}

/// A condition that holds now, so its alert should be firing.
public struct AlertCondition: Sendable, Equatable {
    /// Stable identity, e.g. `futian-2023/gdp/2022/target_missed`.
    public var key: String
    public var kind: AlertKind
    public var severity: Severity
    /// What the details and message are made from: given, or a verdict's (written out only
    /// when an event needs them — most conditions hold alerts that already fire).
    private var source: Source

    private enum Source: Sendable {
        case given(details: JSONValue, message: String)
        case verdict(Verdict, Indicator, PlanLanguage)
    }

    public init(key: String, kind: AlertKind, severity: Severity, details: JSONValue, message: String) {
        self.key = key
        self.kind = kind
        self.severity = severity
        self.source = .given(details: details, message: message)
    }

    /// A missed or at-risk verdict's condition, its details and message worked out when read.
    init(key: String, kind: AlertKind, severity: Severity, verdict: Verdict, indicator: Indicator, language: PlanLanguage) {
        self.key = key
        self.kind = kind
        self.severity = severity
        self.source = .verdict(verdict, indicator, language)
    }

    /// The log line's subject fields (plan, indicator, year, actual, ...), as a JSON object.
    public var details: JSONValue {
        switch source {
        case .given(let details, _): details
        case .verdict(let v, let indicator, _): AlertConditions.details(v, indicator: indicator)
        }
    }

    /// One line for people.
    public var message: String {
        switch source {
        case .given(_, let message): message
        case .verdict(let v, let indicator, let language): AlertConditions.message(v, name: indicator.name, language: language)
        }
    }

    public static func == (lhs: AlertCondition, rhs: AlertCondition) -> Bool {
        lhs.key == rhs.key && lhs.kind == rhs.kind && lhs.severity == rhs.severity && lhs.details == rhs.details
            && lhs.message == rhs.message
    }
}

/// An alert as stored between runs.
public struct AlertRecord: Sendable, Equatable {
    public var key: String
    public var kind: AlertKind
    public var firing: Bool
    public var severity: Severity
    public var details: JSONValue
    public var message: String

    public init(key: String, kind: AlertKind, firing: Bool, severity: Severity, details: JSONValue, message: String) {
        self.key = key
        self.kind = kind
        self.firing = firing
        self.severity = severity
        self.details = details
        self.message = message
    }
}

/// What the state machine decided: an event to record and write.
public struct AlertAction: Sendable, Equatable {
    public var event: AlertEventKind
    public var key: String
    public var kind: AlertKind
    public var severity: Severity
    public var details: JSONValue
    public var message: String
    /// The acknowledgement the event concerns (`ack` in the line): by, note, since, until, ...
    public var ack: JSONValue?
    /// Why notification sinks do not get this event (`muted` in the line), nil when they do.
    public var muted: String?

    public init(
        event: AlertEventKind, key: String, kind: AlertKind, severity: Severity, details: JSONValue, message: String,
        ack: JSONValue? = nil, muted: String? = nil
    ) {
        self.event = event
        self.key = key
        self.kind = kind
        self.severity = severity
        self.details = details
        self.message = message
        self.ack = ack
        self.muted = muted
    }
}

/// The persistent per-key alert state machine, as a pure function: stored states and the
/// conditions holding now in, the events to emit out. The caller stores and writes them.
public enum AlertMachine {
    /// - Parameters:
    ///   - stored: every alert known so far, by key.
    ///   - holding: the conditions that hold now (all of them: absence means "does not hold").
    ///   - resolutionNotes: optional words on why a key stopped holding (e.g. "now met").
    /// - Returns: resolutions first, then firings, each ordered by key.
    public static func step(
        stored: [String: AlertRecord], holding: [AlertCondition],
        resolutionNotes: [String: String] = [:]
    ) -> [AlertAction] {
        step(stored: stored, holding: holding, resolutionNote: { resolutionNotes[$0] })
    }

    /// `step` with the resolution notes given by a function, asked only for the keys that resolve.
    public static func step(
        stored: [String: AlertRecord], holding: [AlertCondition], resolutionNote: (String) -> String?
    ) -> [AlertAction] {
        var holdingByKey: [String: AlertCondition] = [:]
        for condition in holding { holdingByKey[condition.key] = condition }
        var resolved: [AlertAction] = []
        for record in stored.values where record.firing && holdingByKey[record.key] == nil {
            var message = "resolved: \(record.message)"
            if let note = resolutionNote(record.key) { message += " — \(note)" }
            resolved.append(
                AlertAction(
                    event: .resolved, key: record.key, kind: record.kind, severity: record.severity,
                    details: record.details, message: message))
        }
        var fired: [AlertAction] = []
        for condition in holdingByKey.values where stored[condition.key]?.firing != true {
            fired.append(
                AlertAction(
                    event: .firing, key: condition.key, kind: condition.kind, severity: condition.severity,
                    details: condition.details, message: condition.message))
        }
        return resolved.sorted { $0.key < $1.key } + fired.sorted { $0.key < $1.key }
    }

    /// The alert log line of an event (docs/alert-log.md): one JSON object, no newline.
    public static func logLine(seq: Int, time: String, action: AlertAction) -> String {
        logObject(seq: seq, time: time, action: action).text
    }

    /// The alert log line of an event as a JSON value (what `sync --json` prints).
    public static func logObject(seq: Int, time: String, action: AlertAction) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("time", .string(time)), ("seq", .int(seq)), ("event", .string(action.event.rawValue)),
            ("alert", .string(action.kind.rawValue)), ("severity", .string(action.severity.rawValue)),
            ("key", .string(action.key)),
        ]
        if case .object(let details) = action.details { members += details }
        if let ack = action.ack { members.append(("ack", ack)) }
        if let muted = action.muted { members.append(("muted", .string(muted))) }
        members.append(("message", .string(action.message)))
        return JSONValue.object(members)
    }
}
