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
        let judge = Judge(
            indicator: indicator, target: target, index: index, figures: index.figures(indicator.code), tolerance: plan.paceTolerance)
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
        verdict.pace = outcome.pace
        switch (outcome.final, outcome.holds) {
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
    /// The target year's own full-year figure (met/missed), not a figure on the way (on_track/at_risk).
    var final: Bool = true
    var pace: Pace?
}

/// Finds the reading a target needs and compares it.
private struct Judge {
    let indicator: Indicator
    let target: Target
    let index: ObservationIndex
    /// The indicator's figures (nil when no feed published any).
    let figures: ObservationIndex.Figures?
    /// `pace_tolerance_pp` of the plan.
    let tolerance: Figure

    var rule: TargetRule { target.rule }
    var measure: Measure { rule.measure ?? .level }

    /// The threshold before any pro-rating (for display when there is no data).
    var staticThreshold: Figure? {
        switch rule {
        case .growthAtLeast(let v), .atMost(let v), .atLeast(let v), .moreThan(let v): v
        case .declineAtLeast(let v), .declineVsBaseAtLeast(let v, _): -v
        case .averageGrowthAtLeast(let v, _): v
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
            if var partial = compare(at: period, cumulative: true) {
                partial.final = false
                return partial
            }
        }
        // A multi-year target before its year: the latest year with a figure, against the path.
        return onThePath()
    }

    private func compare(at period: Period, cumulative: Bool) -> Outcome? {
        switch rule {
        case .assigned:
            return nil
        case .averageGrowthAtLeast(let v, let baseYear):
            guard !cumulative, let (ratio, exact, found) = growthSinceBase(to: period.year, baseYear: baseYear),
                let average = PaceArithmetic.averageGrowth(ratio: ratio, years: period.year - baseYear),
                let actual = PaceArithmetic.shown(average, scale: derivedScale)
            else { return nil }
            let holds = exact.ratio(atLeast: PaceArithmetic.compounded(v.value, years: period.year - baseYear))
            var reading = found
            reading.value = actual
            return Outcome(reading: reading, threshold: v, holds: holds, shortfall: (v - actual).clampedAtZero, conflicts: reading.conflicts)
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
            let inYear = !period.isFullYear && cumulative
            var pace: Pace?
            if inYear, measure == .level, let v = rule.value {
                // A year-to-date level is compared with the share of the year elapsed (序时进度),
                // less the plan's tolerance (more, for a ceiling).
                let share = v.value * Decimal(period.endMonth) / 12
                let allowance = v.value * tolerance.value / 100
                let ceiling = rule.kind == .atMost
                threshold = Figure(ceiling ? share + allowance : share - allowance, scale: min(v.scale + 2 + tolerance.scale, 6))
                if let p = PaceArithmetic.progress(actual: reading.value.doubleValue, target: v.doubleValue, months: period.endMonth) {
                    pace = Pace(
                        progress: PaceArithmetic.shown(p.progress), expectedProgress: PaceArithmetic.shown(p.expected),
                        gapPP: PaceArithmetic.shown(p.gap))
                }
            }
            let actual = reading.value
            var holds: Bool
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
            case .belowPrevious, .assigned, .averageGrowthAtLeast:
                return nil
            }
            if inYear, measure == .growth, let rest = restOfYear(growth: reading, period: period, target: threshold) {
                holds = rest.holds
                pace = rest.pace
            }
            return Outcome(
                reading: reading, threshold: threshold, holds: holds,
                shortfall: shortfall.clampedAtZero, conflicts: reading.conflicts, pace: pace)
        }
    }

    /// The pace still needed (docs/plans.md): the growth the rest of the year needs for a
    /// year-to-date growth `growth` of `period` to end the year at `target`, from last year's
    /// cumulative levels when the mirror has them, else taking last year as even. Decides
    /// whether the target is at risk: the rest of the year needing more than the target
    /// (a steeper fall, for a decline) by over the plan's tolerance.
    private func restOfYear(growth: Reading, period: Period, target: Figure) -> (holds: Bool, pace: Pace)? {
        let months = period.endMonth
        guard months < 12 else { return nil }
        // +1: growth at least the target; −1: a decline at least the target's.
        let sign: Decimal = rule.kind == .declineAtLeast ? -1 : 1
        let strict = rule.kind == .growthPositive
        let t = target.value
        let tol = tolerance.value
        func atRisk(_ lhs: Decimal, _ rhs: Decimal) -> Bool { strict ? sign * lhs >= rhs : sign * lhs > rhs }
        if let last = published(.level, .year(period.year - 1), false),
            let lastToDate = published(.level, period.shifted(years: -1), true),
            let toDate = published(.level, period, true),
            last.value > lastToDate.value,
            let required = PaceArithmetic.requiredRest(
                target: target.doubleValue, lastYear: last.value.doubleValue, lastYearToDate: lastToDate.value.doubleValue,
                yearToDate: toDate.value.doubleValue)
        {
            // required > t + tol  ⇔  L(100 + t) − 100·Y_P > (100 + t + tol)(L − Y_prev,P); signs turned for a decline.
            let l = last.value.value
            let rest = l - lastToDate.value.value
            let lhs = l * (100 + t) - 100 * toDate.value.value - (100 + t + sign * tol) * rest
            return (!atRisk(lhs, 0), Pace(requiredRest: PaceArithmetic.shown(required), requiredBasis: .levels))
        }
        guard let required = PaceArithmetic.requiredRest(target: target.doubleValue, growthToDate: growth.value.doubleValue, months: months)
        else { return nil }
        // required > t + tol  ⇔  m(t − g) > (12 − m)·tol; signs turned for a decline.
        let risk = atRisk(Decimal(months) * (t - growth.value.value), Decimal(12 - months) * tol)
        return (!risk, Pace(requiredRest: PaceArithmetic.shown(required), requiredBasis: .even))
    }

    /// A multi-year target judged before its year, from the latest year with a figure: against
    /// the constant-rate path from the base year to the target (`expected_to_date`), with the
    /// yearly change the remaining years need.
    private func onThePath() -> Outcome? {
        guard let baseYear = rule.baseYear, let v = rule.value, target.year - baseYear >= 2 else { return nil }
        for year in stride(from: target.year - 1, to: baseYear, by: -1) {
            switch rule {
            case .declineVsBaseAtLeast:
                let period = Period.year(year)
                guard let reading = published(.changeVsBase, period, false) ?? derived(.changeVsBase, period, false),
                    let expected = PaceArithmetic.expectedToDate(total: -v.doubleValue, baseYear: baseYear, targetYear: target.year, year: year),
                    let shownExpected = PaceArithmetic.shown(expected)
                else { continue }
                let c = reading.value.doubleValue
                let behind = c > expected + tolerance.doubleValue
                let pace = Pace(
                    expectedToDate: shownExpected,
                    requiredPerYear: PaceArithmetic.requiredPerYear(total: -v.doubleValue, reached: c, year: year, targetYear: target.year)
                        .flatMap { PaceArithmetic.shown($0) })
                return Outcome(
                    reading: reading, threshold: shownExpected, holds: !behind, shortfall: (reading.value - shownExpected).clampedAtZero,
                    conflicts: reading.conflicts, final: false, pace: pace)
            case .averageGrowthAtLeast:
                guard let (ratio, exact, found) = growthSinceBase(to: year, baseYear: baseYear),
                    let average = PaceArithmetic.averageGrowth(ratio: ratio, years: year - baseYear),
                    let actual = PaceArithmetic.shown(average, scale: derivedScale)
                else { continue }
                // Behind when the change since the base trails the path by more than the tolerance:
                // 100·ratio − 100 < 100·(1 + v)^n − 100 − tol.
                let path = PaceArithmetic.compounded(v.value, years: year - baseYear)
                let behind = exact.ratio(below: path - tolerance.value / 100)
                let total = (pow(1 + v.doubleValue / 100, Double(target.year - baseYear)) - 1) * 100
                let pace = Pace(
                    expectedToDate: PaceArithmetic.shown((pow(1 + v.doubleValue / 100, Double(year - baseYear)) - 1) * 100),
                    requiredPerYear: PaceArithmetic.requiredPerYear(total: total, reached: (ratio - 1) * 100, year: year, targetYear: target.year)
                        .flatMap { PaceArithmetic.shown($0) })
                var reading = found
                reading.value = actual
                return Outcome(
                    reading: reading, threshold: v, holds: !behind, shortfall: (v - actual).clampedAtZero, conflicts: reading.conflicts,
                    final: false, pace: pace)
            default:
                return nil
            }
        }
        return nil
    }

    /// The growth from the base year's full-year level to `year`'s: from the two levels, or
    /// from the chain of yearly growth figures in between. The ratio as a Double (for what is
    /// shown), exactly (for judging), and a reading describing where it came from.
    private func growthSinceBase(to year: Int, baseYear: Int) -> (Double, ExactRatio, Reading)? {
        guard year > baseYear else { return nil }
        if let current = published(.level, .year(year), false), let base = published(.level, .year(baseYear), false), base.value.value > 0 {
            let reading = Reading(
                measure: .growth, value: current.value, period: .year(year), cumulative: false, feed: current.feed, derived: true,
                conflicts: current.conflicts + base.conflicts)
            return (
                current.value.doubleValue / base.value.doubleValue, .quotient(current.value.value, base.value.value), reading
            )
        }
        var product = Decimal(1)
        var conflicts: [SourceConflict] = []
        var feed = ""
        for y in (baseYear + 1)...year {
            guard let g = published(.growth, .year(y), false) ?? derived(.growth, .year(y), false) else { return nil }
            product *= 1 + g.value.value / 100
            conflicts += g.conflicts
            feed = g.feed
        }
        let reading = Reading(measure: .growth, value: Figure(0), period: .year(year), cumulative: false, feed: feed, derived: true, conflicts: conflicts)
        return (NSDecimalNumber(decimal: product).doubleValue, .product(product), reading)
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

/// A ratio kept exact for judging: a quotient of two levels (compared by multiplying out) or
/// a product of growth factors.
enum ExactRatio {
    case quotient(Decimal, Decimal)
    case product(Decimal)

    /// ratio ≥ bound.
    func ratio(atLeast bound: Decimal) -> Bool {
        switch self {
        case .quotient(let a, let b): a >= b * bound
        case .product(let p): p >= bound
        }
    }

    /// ratio < bound.
    func ratio(below bound: Decimal) -> Bool { !ratio(atLeast: bound) }
}
