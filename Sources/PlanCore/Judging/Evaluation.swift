import Foundation

/// Judges plan targets against observations (docs/plans.md). Pure: the same plan and
/// observations always give the same verdicts; no clock, file or network access.
public enum Evaluation {
    /// One verdict per (indicator, target year) of the plan, in plan order.
    /// - Parameter years: only these target years (all when nil).
    public static func verdicts(plan: Plan, index: ObservationIndex, years: Set<Int>? = nil) -> [Verdict] {
        plan.indicators.flatMap { indicator in
            indicator.targets
                .filter { years?.contains($0.year) ?? true }
                .map { verdict(plan: plan, indicator: indicator, target: $0, index: index) }
        }
    }

    /// Convenience: builds the index from observations and feed priorities.
    public static func verdicts(
        plan: Plan, observations: [Observation], priorities: [String: Int] = [:],
        years: Set<Int>? = nil
    ) -> [Verdict] {
        verdicts(plan: plan, index: ObservationIndex(observations, priorities: priorities), years: years)
    }

    /// The verdict for one target of one indicator.
    public static func verdict(plan: Plan, indicator: Indicator, target: Target, index: ObservationIndex) -> Verdict {
        var verdict = Verdict(
            plan: plan.id, indicator: indicator.code, year: target.year,
            status: .noData, rule: target.rule.kind)
        guard let measure = target.rule.measure else {
            verdict.status = .awaitingTarget
            return verdict
        }
        let judge = Judge(indicator: indicator, target: target, index: index, figures: index.figures(indicator.code))
        verdict.measure = measure
        verdict.unit = measure == .level ? indicator.unit : "%"
        verdict.threshold = judge.staticThreshold
        guard let outcome = judge.outcome() else { return verdict }

        verdict.measure = outcome.reading.measure
        verdict.unit = outcome.reading.measure == .level ? indicator.unit : "%"
        verdict.actual = outcome.reading.value
        verdict.threshold = outcome.threshold
        verdict.shortfall = outcome.shortfall
        verdict.period = outcome.reading.period
        verdict.cumulative = outcome.reading.cumulative
        verdict.feed = outcome.reading.feed
        verdict.derived = outcome.reading.derived
        verdict.conflicts = outcome.conflicts
        let fullYear = outcome.reading.period.isFullYear
        switch (fullYear, outcome.holds) {
        case (true, true): verdict.status = .met
        case (true, false): verdict.status = .missed
        case (false, true): verdict.status = .onTrack
        case (false, false): verdict.status = .atRisk
        }
        if !outcome.holds {
            verdict.severity = indicator.category == .binding ? .critical : .warning
        }
        return verdict
    }
}

/// A figure a rule can read: published, or derived from levels.
struct Reading {
    var measure: Measure
    var value: Figure
    var period: Period
    var cumulative: Bool
    var feed: String
    var derived: Bool
    var conflicts: [SourceConflict]
}

/// The comparison of a reading with a target.
struct Outcome {
    var reading: Reading
    var threshold: Figure
    var holds: Bool
    var shortfall: Figure
    var conflicts: [SourceConflict]
}

/// Finds the reading a target needs and compares it.
private struct Judge {
    let indicator: Indicator
    let target: Target
    let index: ObservationIndex
    /// The indicator's figures (nil when no feed published any).
    let figures: ObservationIndex.Figures?

    var rule: TargetRule { target.rule }
    var measure: Measure { rule.measure ?? .level }

    /// The threshold before any pro-rating (for display when there is no data).
    var staticThreshold: Figure? {
        switch rule {
        case .growthAtLeast(let v), .atMost(let v), .atLeast(let v), .moreThan(let v): v
        case .declineAtLeast(let v), .declineVsBaseAtLeast(let v, _): -v
        case .growthPositive: Figure(0)
        case .belowPrevious, .assigned: nil
        }
    }

    /// Decimals of a derived percentage: at least one, or the target's own precision.
    var derivedScale: Int { max(1, rule.value?.scale ?? 1) }

    func outcome() -> Outcome? {
        if let full = compare(at: .year(target.year), cumulative: false) { return full }
        // In-year: the latest year-to-date period that gives a reading.
        var periods: [Period] = []
        for slot in figures?.slots ?? [] where slot.cumulative && slot.period.year == target.year && slot.period.isJudgeable {
            periods.append(slot.period)
        }
        periods.sort(by: >)
        var tried: Period?
        for period in periods where period != tried {
            tried = period
            if let partial = compare(at: period, cumulative: true) { return partial }
        }
        return nil
    }

    private func compare(at period: Period, cumulative: Bool) -> Outcome? {
        switch rule {
        case .assigned:
            return nil
        case .belowPrevious:
            if let current = published(.level, period, cumulative),
                let previous = published(.level, period.shifted(years: -1), cumulative)
            {
                let holds = current.value < previous.value
                return Outcome(
                    reading: current, threshold: previous.value, holds: holds,
                    shortfall: (current.value - previous.value).clampedAtZero,
                    conflicts: current.conflicts + previous.conflicts)
            }
            // Without both levels, a published year-on-year change tells the same.
            guard let growth = published(.growth, period, cumulative) else { return nil }
            let zero = Figure(0)
            return Outcome(
                reading: growth, threshold: zero, holds: growth.value < zero,
                shortfall: growth.value.clampedAtZero, conflicts: growth.conflicts)
        case .growthAtLeast, .growthPositive, .declineAtLeast, .declineVsBaseAtLeast, .atMost, .atLeast, .moreThan:
            guard let reading = published(measure, period, cumulative) ?? derived(measure, period, cumulative),
                var threshold = staticThreshold
            else { return nil }
            if !period.isFullYear, measure == .level, cumulative, let v = rule.value {
                // A year-to-date level is compared with the share of the year elapsed.
                threshold = Figure(v.value * Decimal(period.endMonth) / 12, scale: min(v.scale + 2, 6))
            }
            let actual = reading.value
            let holds: Bool
            let shortfall: Figure
            switch rule {
            case .growthAtLeast, .atLeast:
                holds = actual >= threshold
                shortfall = threshold - actual
            case .moreThan, .growthPositive:
                holds = actual > threshold
                shortfall = threshold - actual
            case .declineAtLeast, .declineVsBaseAtLeast, .atMost:
                holds = actual <= threshold
                shortfall = actual - threshold
            case .belowPrevious, .assigned:
                return nil
            }
            return Outcome(
                reading: reading, threshold: threshold, holds: holds,
                shortfall: shortfall.clampedAtZero, conflicts: reading.conflicts)
        }
    }

    private func key(_ measure: Measure, _ period: Period, _ cumulative: Bool) -> ObservationKey {
        ObservationKey(
            indicator: indicator.code, period: period, measure: measure,
            cumulative: cumulative, baseYear: measure == .changeVsBase ? rule.baseYear : nil)
    }

    private func published(_ measure: Measure, _ period: Period, _ cumulative: Bool) -> Reading? {
        let baseYear = measure == .changeVsBase ? rule.baseYear : nil
        guard let slot = figures?.slot(ObservationIndex.FigureKey(period, measure, cumulative: cumulative, baseYear: baseYear))
        else { return nil }
        let winner = index.observations[Int(slot.winner)]
        var conflicts: [SourceConflict] = []
        if !slot.others.isEmpty, let conflict = index.conflict(key(measure, period, cumulative), slot) {
            conflicts = [conflict]
        }
        return Reading(
            measure: measure, value: winner.value, period: period, cumulative: cumulative && !period.isFullYear,
            feed: winner.feed, derived: false, conflicts: conflicts)
    }

    /// Growth from this and the previous year's level; change vs base from this and the base year's level.
    private func derived(_ measure: Measure, _ period: Period, _ cumulative: Bool) -> Reading? {
        let basePeriod: Period
        switch measure {
        case .level: return nil
        case .growth: basePeriod = period.shifted(years: -1)
        case .changeVsBase:
            guard let baseYear = rule.baseYear else { return nil }
            basePeriod = period.shifted(years: baseYear - period.year)
        }
        guard let current = published(.level, period, cumulative),
            let base = published(.level, basePeriod, cumulative),
            !base.value.isZero
        else { return nil }
        let change = (current.value.value / base.value.value - 1) * 100
        return Reading(
            measure: measure, value: Figure(change, scale: derivedScale), period: period,
            cumulative: current.cumulative, feed: current.feed, derived: true,
            conflicts: current.conflicts + base.conflicts)
    }
}
