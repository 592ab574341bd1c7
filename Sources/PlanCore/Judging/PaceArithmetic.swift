import Foundation

/// The plan arithmetic offices do by hand (docs/plans.md, "Pace"). Percentages in, percent
/// figures out, shown with two decimals. Statuses are never decided from these shown
/// figures: `Evaluation` compares exactly (decimal products, no division) and uses these for
/// what a verdict shows.
public enum PaceArithmetic {
    /// `x` (a percentage) as a figure with two decimals, half away from zero; nil when not finite.
    public static func shown(_ x: Double, scale: Int = 2) -> Figure? {
        guard x.isFinite, abs(x) < 1e12 else { return nil }
        var factor = 1.0
        for _ in 0..<scale { factor *= 10 }
        let units = (x * factor).rounded()
        let magnitude = Decimal(UInt64(abs(units)))
        let value = units == 0 ? Decimal(0) : Decimal(sign: units < 0 ? .minus : .plus, exponent: -scale, significand: magnitude)
        return Figure(value, scale: scale)
    }

    /// 序时进度: how much of an annual quantity `actual` is (`progress`, %), the share of the
    /// year the period closes (`expected`, %: month m → m/12, quarter q → q/4, half h → h/2),
    /// and the difference in percentage points. Nil for a target of zero or less.
    public static func progress(actual: Double, target: Double, months: Int) -> (progress: Double, expected: Double, gap: Double)? {
        guard target > 0, (1...12).contains(months) else { return nil }
        let progress = actual / target * 100
        let expected = Double(months) / 12 * 100
        return (progress, expected, progress - expected)
    }

    /// The growth (%) the rest of the year needs for the year to grow by `target` %, from last
    /// year's full-year level, its level to the same period, and this year's level to date:
    /// (L_prev × (1 + target) − Y_P) ÷ (L_prev − Y_prev,P) − 1. Nil when last year's rest is
    /// not positive.
    public static func requiredRest(target: Double, lastYear: Double, lastYearToDate: Double, yearToDate: Double) -> Double? {
        let rest = lastYear - lastYearToDate
        guard rest > 0 else { return nil }
        return ((lastYear * (1 + target / 100) - yearToDate) / rest - 1) * 100
    }

    /// The same without levels, taking last year as spread evenly over its periods (weight
    /// `months`/12 to date): ((1 + target) − w × (1 + growth to date)) ÷ (1 − w) − 1.
    public static func requiredRest(target: Double, growthToDate: Double, months: Int) -> Double? {
        guard (1...11).contains(months) else { return nil }
        let w = Double(months) / 12
        return (((1 + target / 100) - w * (1 + growthToDate / 100)) / (1 - w) - 1) * 100
    }

    /// Where a constant-rate path from the base year to a total change of `total` % by the
    /// target year stands in `year` (%): (1 + total)^((year − base) ÷ (target − base)) − 1.
    public static func expectedToDate(total: Double, baseYear: Int, targetYear: Int, year: Int) -> Double? {
        guard targetYear > baseYear, total > -100 else { return nil }
        return (pow(1 + total / 100, Double(year - baseYear) / Double(targetYear - baseYear)) - 1) * 100
    }

    /// The constant yearly change (%) that takes a change of `reached` % (vs the base) in
    /// `year` to `total` % in the target year.
    public static func requiredPerYear(total: Double, reached: Double, year: Int, targetYear: Int) -> Double? {
        guard targetYear > year, total > -100, reached > -100 else { return nil }
        return (pow((1 + total / 100) / (1 + reached / 100), 1 / Double(targetYear - year)) - 1) * 100
    }

    /// The average yearly growth (%) of a change by the factor `ratio` over `years` years.
    public static func averageGrowth(ratio: Double, years: Int) -> Double? {
        guard years > 0, ratio > 0 else { return nil }
        return (pow(ratio, 1 / Double(years)) - 1) * 100
    }

    /// (1 + `percent` / 100)^`years`, exactly.
    static func compounded(_ percent: Decimal, years: Int) -> Decimal {
        let factor = 1 + percent / 100
        var result = Decimal(1)
        for _ in 0..<max(0, years) { result *= factor }
        return result
    }
}
