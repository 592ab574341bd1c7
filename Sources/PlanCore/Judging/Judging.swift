import Foundation

/// How a feed is judged for alerts: its plan, priority and alert thresholds.
public struct FeedPolicy: Sendable, Equatable {
    public var id: String
    public var plan: String
    public var priority: Int
    public var failingAfter: Int
    public var staleAfter: Double

    public init(id: String, plan: String, priority: Int, failingAfter: Int, staleAfter: Double) {
        self.id = id
        self.plan = plan
        self.priority = priority
        self.failingAfter = failingAfter
        self.staleAfter = staleAfter
    }
}

/// What the mirror knows of a feed's health.
public struct FeedHealth: Sendable, Equatable {
    /// Failed fetch cycles in a row.
    public var failures: Int
    public var lastError: String?
    /// The text of the last success's time (as stored), and the time itself.
    public var lastSuccessText: String?
    public var lastSuccess: Date?
    /// When the feed was first configured.
    public var created: Date?

    public init(failures: Int, lastError: String?, lastSuccessText: String?, lastSuccess: Date?, created: Date?) {
        self.failures = failures
        self.lastError = lastError
        self.lastSuccessText = lastSuccessText
        self.lastSuccess = lastSuccess
        self.created = created
    }
}

/// One plan judged: its verdicts, the alert conditions they and the feeds' disagreements
/// raise, and the note each of its target alerts resolves with.
public struct PlanJudgement: Sendable {
    public var verdicts: [Verdict]
    public var conditions: [AlertCondition]
    /// Each watched indicator's release status (indicators with a `release`), when judged at a time.
    public var releases: [ReleaseStatus] = []
    /// When the clock alone changes this judgement (a release falling due): judge again then.
    public var recheckAt: Date?

    public init(verdicts: [Verdict], conditions: [AlertCondition]) {
        self.verdicts = verdicts
        self.conditions = conditions
    }

    /// The note a target alert of this plan resolves with ("now met: growth 6.5"), by alert
    /// key (`<plan>/<indicator>/<year>/<kind>`); nil for keys of no verdict here. Worked out
    /// only for the alerts that resolve.
    public func resolutionNote(_ key: String) -> String? {
        var rest = Substring(key)
        guard let kind = [AlertKind.targetMissed, .targetAtRisk].first(where: { rest.hasSuffix("/" + $0.rawValue) }) else { return nil }
        rest = rest.dropLast(kind.rawValue.utf8.count + 1)
        guard let slash = rest.lastIndex(of: "/"), let year = Int(rest[rest.index(after: slash)...]) else { return nil }
        rest = rest[..<slash]
        for v in verdicts where v.year == year && rest.hasSuffix(v.indicator) && rest == "\(v.plan)/\(v.indicator)" {
            return "now \(v.status.rawValue)\(v.actual.map { ": \(v.measure?.rawValue ?? "") \($0)" } ?? "")"
        }
        return nil
    }
}

/// Judging as a pure function of its inputs: plans and their observations, feed health, the
/// stored alert states and the time. The mirror loads the inputs and stores the outputs in
/// one transaction; nothing here reads or writes anything.
public enum Judging {
    /// The years of observations a plan's targets read: target years, the year before, and
    /// for targets with a base year every year from it.
    public static func yearsNeeded(_ plan: Plan) -> Set<Int> {
        var years = Set<Int>()
        for indicator in plan.indicators {
            for target in indicator.targets {
                years.formUnion([target.year, target.year - 1])
                // A target with a base year reads every year from it: the path before the
                // target year, the chain of yearly growth figures.
                if let base = target.rule.baseYear, base < target.year { years.formUnion(base...target.year) }
            }
        }
        return years
    }

    /// Judges one plan on its observations (indexed with the feeds' priorities); at `now`,
    /// also which figures are overdue by their release schedules.
    public static func judge(_ plan: Plan, index: ObservationIndex, now: Date? = nil) -> PlanJudgement {
        var result = PlanJudgement(verdicts: [], conditions: [])
        result.verdicts.reserveCapacity(plan.indicators.reduce(0) { $0 + $1.targets.count })
        for indicator in plan.indicators {
            for target in indicator.targets {
                let v = Evaluation.verdict(plan: plan, indicator: indicator, target: target, index: index)
                if let condition = AlertConditions.verdict(v, indicator: indicator, language: plan.language) { result.conditions.append(condition) }
                result.verdicts.append(v)
            }
        }
        for conflict in index.conflicts(indicators: plan.indicators.map(\.code)) {
            result.conditions.append(
                AlertConditions.conflict(conflict, plan: plan.id, indicator: plan.indicator(conflict.key.indicator)))
        }
        if let now { releases(plan, index: index, now: now, into: &result) }
        return result
    }

    /// The release statuses of the plan's watched indicators at `now`, their overdue
    /// conditions, and when they next change. The periods watched are those of the plan's
    /// target years (first to last; for yearly releases also the year before the first,
    /// whose figure comes out in it).
    public static func releases(_ plan: Plan, index: ObservationIndex, now: Date, into result: inout PlanJudgement) {
        let years = plan.years
        guard let first = years.first, let last = years.last, plan.indicators.contains(where: { $0.release != nil }) else { return }
        // Due times from the table shared by every plan with the same schedule and time zone
        // (plans copied from one template: worked out once for a whole province), cut down to
        // the periods not yet forgotten at `now`: for most indicators a year's worth or none.
        var tables: [(schedule: ReleaseSchedule, live: [DuePeriod], ordinals: ClosedRange<Int>?)] = []
        for indicator in plan.indicators {
            guard let schedule = indicator.release else { continue }
            let watched: (live: [DuePeriod], ordinals: ClosedRange<Int>?)
            if let known = tables.first(where: { $0.schedule == schedule }) {
                watched = (known.live, known.ordinals)
            } else {
                let years = (schedule.frequency == .yearly ? first - 1 : first)...last
                let live = Releases.dueTable(schedule, timeZone: plan.timeZone, years: years).filter { $0.forgottenAt > now }
                let ordinals = live.map(\.ordinal)
                watched = (live, ordinals.min().map { $0...ordinals.max()! })
                tables.append((schedule, watched.live, watched.ordinals))
            }
            // The periods published among those watched: integer comparisons over the
            // indicator's figures, hashing none.
            var published: [Int] = []
            if let range = watched.ordinals {
                for slot in index.figures(indicator.code)?.slots ?? [] where range.contains(slot.period.ordinal) {
                    published.append(slot.period.ordinal)
                }
            }
            let status = Releases.status(indicator: indicator.code, watching: watched.live, now: now) { published.contains($0.ordinal) }
            for overdue in status.overdue {
                result.conditions.append(AlertConditions.overdue(overdue, plan: plan, indicator: indicator, now: now))
            }
            if let at = status.changesAt, result.recheckAt.map({ at < $0 }) ?? true { result.recheckAt = at }
            result.releases.append(status)
        }
    }

    /// The feed conditions that hold at `now`: failing after `failingAfter` failed cycles,
    /// stale after `staleAfter` without a success (counted from creation for a feed that never
    /// succeeded).
    public static func feedConditions(_ feeds: [FeedPolicy], health: [String: FeedHealth], now: Date) -> [AlertCondition] {
        var holding: [AlertCondition] = []
        for feed in feeds {
            guard let row = health[feed.id] else { continue }
            if row.failures >= feed.failingAfter {
                holding.append(AlertConditions.feedFailing(feed: feed.id, plan: feed.plan, failures: row.failures, lastError: row.lastError))
            }
            let reference = row.lastSuccess ?? row.created ?? now
            if now.timeIntervalSince(reference) > feed.staleAfter {
                holding.append(
                    AlertConditions.feedStale(
                        feed: feed.id, plan: feed.plan, lastSuccess: row.lastSuccessText,
                        staleAfter: DurationText.format(feed.staleAfter)))
            }
        }
        return holding
    }

    /// The alert actions (events to record) given the stored alert states and what holds now.
    /// `details(key)` gives a resolving alert's stored details (read only for those).
    public static func actions(
        plans: [PlanJudgement], feedConditions: [AlertCondition], stored: [String: AlertRecord],
        details: (String) -> JSONValue
    ) -> [AlertAction] {
        var holding: [AlertCondition] = []
        for plan in plans { holding += plan.conditions }
        holding += feedConditions
        let note: (String) -> String? = { key in plans.lazy.compactMap { $0.resolutionNote(key) }.first }
        return AlertMachine.step(stored: stored, holding: holding, resolutionNote: note).map { action in
            var action = action
            if action.event == .resolved { action.details = details(action.key) }
            return action
        }
    }
}

extension Judging {
    /// Bumped whenever judging itself changes, so verdicts stored by an older plansync are
    /// judged again after an upgrade.
    public static let version = 2

    /// Everything a plan's verdicts, conflicts and alert conditions are computed from apart
    /// from its observations, as one canonical text (the mirror keeps its SHA-256 to know
    /// whether a plan must be judged again). A field of `Plan` that judging reads must
    /// appear here.
    public static func inputsText(_ plan: Plan, feeds: [FeedPolicy]) -> String {
        String(decoding: inputsBytes(plan, feeds: feeds), as: UTF8.self)
    }

    /// `inputsText` as UTF-8 bytes, written straight into one buffer (it is hashed for every
    /// plan of a province on every judgement).
    public static func inputsBytes(_ plan: Plan, feeds: [FeedPolicy]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + plan.indicators.count * 400)
        func raw(_ text: String) {
            var text = text
            text.withUTF8 { bytes.append(contentsOf: $0) }
        }
        // Each field length-prefixed: no text of a plan file can forge another field.
        func field(_ text: String?) {
            if let text {
                raw(String(text.utf8.count))
                bytes.append(0x3A)
                raw(text)
            } else {
                bytes.append(0x2D)
            }
            bytes.append(0x20)
        }
        raw("judging \(version)\nplan \(plan.id)\n")
        field("title"); field(plan.title); field(plan.titleEN); field(plan.region)
        bytes.append(0x0A)
        field("pace"); field(plan.paceTolerance.description); field(plan.language.rawValue); field(plan.timeZone)
        bytes.append(0x0A)
        for indicator in plan.indicators {
            field("indicator"); field(indicator.code); field(indicator.name); field(indicator.nameEN)
            field(indicator.category.rawValue); field(indicator.unit)
            bytes.append(0x0A)
            if let r = indicator.release {
                field("release"); field(r.frequency.rawValue); field(String(r.lagDays)); field(String(r.grace))
                field(r.skip.sorted().map(String.init).joined(separator: ","))
                field(r.dates.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: ","))
                bytes.append(0x0A)
            }
            for target in indicator.targets {
                field("target"); field(String(target.year)); field(target.rule.name); field(target.rule.value?.description)
                field(target.rule.baseYear.map(String.init)); field(target.text)
                bytes.append(0x0A)
            }
        }
        for feed in feeds.sorted(by: { $0.id < $1.id }) {
            field("feed"); field(feed.id); field(String(feed.priority))
            bytes.append(0x0A)
        }
        return bytes
    }
}
