import Foundation
import Mirror
import PlanCore
import Support

/// Everything a report shows, read from the mirror at one moment: the plans in the order
/// asked for, with their verdicts, figures, firing alerts and feeds (docs/reports.md).
public struct Report: Sendable {
    /// When the report was made.
    public var generatedAt: Date
    /// The language asked for (`--lang`); nil: each plan's own.
    public var language: PlanLanguage?
    public var plans: [PlanSection]

    public init(generatedAt: Date, language: PlanLanguage?, plans: [PlanSection]) {
        self.generatedAt = generatedAt
        self.language = language
        self.plans = plans
    }

    /// The document's language: the one asked for, else the first plan's.
    public var documentLanguage: PlanLanguage { language ?? plans.first?.plan.language ?? .zh }

    /// The newest figure any plan reflects.
    public var latestData: String? { plans.compactMap(\.records.latestData).max() }

    /// Reads `plans` from `mirror` (several at once), keeping only `year`'s columns when one
    /// is given. `history` (earlier values, first seen) is what full charts and the
    /// observations sheet show; a multi-plan HTML page or CSV does without.
    public static func load(
        mirror: Mirror, plans: [Plan], year: Int? = nil, language: PlanLanguage? = nil, history: Bool = true, now: Date = Date()
    ) async throws(MirrorError) -> Report {
        let feeds = PlanSection.feedsByPlan(try await mirror.feedStatuses())
        let read = plans.concurrentMap { plan in
            Result { () throws(MirrorError) in try mirror.reportRecordsNow(plan: plan.id, history: history) }.map { records in
                PlanSection(plan: plan, records: records, feeds: feeds[plan.id] ?? [], year: year)
            }
        }
        var sections: [PlanSection] = []
        for result in read { sections.append(try result.get()) }
        return Report(generatedAt: now, language: language, plans: sections)
    }
}

/// One plan in a report.
public struct PlanSection: Sendable {
    public var plan: Plan
    public var records: PlanReportRecords
    public var feeds: [FeedStatus]
    /// The target years shown (all of the plan's, or the one asked for).
    public var years: [Int]
    public var rows: [AnnexRow]

    /// The configured (active) feeds by plan, from `Mirror.feedStatuses`: grouped once, not
    /// filtered again for each of a province's plans.
    public static func feedsByPlan(_ feeds: [FeedStatus]) -> [String: [FeedStatus]] {
        Dictionary(grouping: feeds.filter(\.active), by: \.plan)
    }

    public init(plan: Plan, records: PlanReportRecords, feeds: [FeedStatus], year: Int? = nil) {
        self.plan = plan
        self.records = records
        self.feeds = feeds
        let years = year.map { [$0] } ?? plan.years
        self.years = years
        var verdicts: [String: [Int: Verdict]] = [:]
        for v in records.verdicts { verdicts[v.indicator, default: [:]][v.year] = v }
        var observations: [String: [ReportObservation]] = [:]
        for o in records.observations { observations[o.indicator, default: []].append(o) }
        // By period, measure, then highest priority first (the winner of each figure leads).
        for key in observations.keys {
            observations[key]!.sort {
                let (a, b) = ($0.period.ordinal, $1.period.ordinal)
                if a != b { return a < b }
                if $0.measure != $1.measure { return $0.measure.rawValue < $1.measure.rawValue }
                if $0.cumulative != $1.cumulative { return !$0.cumulative }
                if $0.priority != $1.priority { return $0.priority > $1.priority }
                return $0.feed < $1.feed
            }
        }
        rows = plan.indicators.enumerated().compactMap { offset, indicator in
            let cells = years.map { year in
                AnnexCell(year: year, target: indicator.targets.first { $0.year == year }, verdict: verdicts[indicator.code]?[year])
            }
            guard year == nil || cells.contains(where: { $0.target != nil }) else { return nil }
            return AnnexRow(number: offset + 1, indicator: indicator, cells: cells, observations: observations[indicator.code] ?? [])
        }
    }
}

/// One indicator's line of the annex table.
public struct AnnexRow: Sendable {
    /// Its number in the plan (1-based, as in the plan's annex).
    public var number: Int
    public var indicator: Indicator
    /// One per year shown, in order.
    public var cells: [AnnexCell]
    /// The indicator's stored figures, by period.
    public var observations: [ReportObservation]
}

/// One (indicator, year) of the annex: the target set and its verdict.
public struct AnnexCell: Sendable {
    public var year: Int
    public var target: Target?
    public var verdict: Verdict?
}

/// The words a report uses, in Chinese or English.
public struct ReportLabels: Sendable {
    public let language: PlanLanguage

    public init(_ language: PlanLanguage) { self.language = language }

    var zh: Bool { language == .zh }
    /// The HTML `lang` value.
    public var htmlLang: String { zh ? "zh-CN" : "en" }

    public var number: String { zh ? "序号" : "No." }
    public var indicator: String { zh ? "指标" : "Indicator" }
    public var category: String { zh ? "属性" : "Type" }
    public var unit: String { zh ? "单位" : "Unit" }
    public func target(_ year: Int) -> String { zh ? "\(year)年目标" : "\(year) target" }
    public func outcome(_ year: Int) -> String { zh ? "\(year)年完成" : "\(year) outcome" }
    public var status: String { zh ? "状态" : "Status" }
    public var shortfall: String { zh ? "差距" : "Short by" }
    public var pace: String { zh ? "进度" : "Pace" }
    public var period: String { zh ? "数据期" : "Period" }
    public var charts: String { zh ? "指标走势" : "Indicator charts" }
    public var trend: String { zh ? "走势" : "Trend" }
    public var alerts: String { zh ? "正在告警" : "Firing alerts" }
    public var feeds: String { zh ? "数据源" : "Feeds" }
    public var feed: String { zh ? "数据源" : "Feed" }
    public var lastSuccess: String { zh ? "最近成功" : "Last success" }
    public var failures: String { zh ? "连续失败" : "Failures in a row" }
    public var lastError: String { zh ? "最近错误" : "Last error" }
    public var severity: String { zh ? "级别" : "Severity" }
    public var message: String { zh ? "内容" : "Message" }
    public var firingFor: String { zh ? "持续时间" : "Firing for" }
    public var since: String { zh ? "开始于" : "Since" }
    public var noAlerts: String { zh ? "没有正在告警的事项。" : "No alert is firing." }
    /// "已确认（张三，2026-12-03T…）" / "acknowledged by 张三 (2026-12-03T…)".
    public func acknowledgedBy(_ by: String, since: String) -> String { zh ? "已确认（\(by)，\(since)）" : "acknowledged by \(by) (\(since))" }
    public var noFeeds: String { zh ? "没有配置数据源。" : "No feed is configured." }
    public var noFigures: String { zh ? "暂无数据" : "no figures yet" }
    public var never: String { zh ? "从未" : "never" }
    public var generated: String { zh ? "生成时间" : "Made" }
    public var latestData: String { zh ? "最新数据" : "Latest data" }
    public var judged: String { zh ? "最近评估" : "Last judged" }
    public var contents: String { zh ? "目录" : "Contents" }
    public var reportTitle: String { zh ? "规划指标执行情况" : "Plan outcomes" }
    public var earlier: String { zh ? "修订前" : "before revision" }
    public var conflict: String { zh ? "来源不一致" : "sources disagree" }
    public var targetLine: String { zh ? "目标" : "target" }
    public var legendOutcome: String { zh ? "实际" : "outcome" }
    public var ytd: String { zh ? "累计" : "YTD" }
    public var observations: String { zh ? "数据明细" : "Observations" }
    public var measure: String { zh ? "口径" : "Measure" }
    public var value: String { zh ? "数值" : "Value" }
    public var firstSeen: String { zh ? "首次获取" : "First seen" }
    public var revised: String { zh ? "修订" : "Revised" }
    public var cumulative: String { zh ? "累计" : "Year to date" }
    public var baseYear: String { zh ? "基期" : "Base year" }

    public func category(_ c: Category) -> String {
        switch c {
        case .expected: zh ? "预期性" : "expected"
        case .binding: zh ? "约束性" : "binding"
        }
    }

    /// The status as a word (never colour alone): e.g. 未完成 / missed, with (critical).
    public func status(_ v: Verdict?) -> String {
        guard let v else { return "—" }
        let word: String
        switch v.status {
        case .met: word = zh ? "完成" : "met"
        case .missed: word = zh ? "未完成" : "missed"
        case .onTrack: word = zh ? "进度正常" : "on track"
        case .atRisk: word = zh ? "有风险" : "at risk"
        case .noData: word = zh ? "暂无数据" : "no data"
        case .awaitingTarget: word = zh ? "待上级下达" : "awaiting target"
        }
        guard v.severity == .critical, v.status == .missed || v.status == .atRisk else { return word }
        return word + (zh ? "（严重）" : " (critical)")
    }

    public func measure(_ m: Measure, baseYear: Int?) -> String {
        switch m {
        case .level: zh ? "总量" : "level"
        case .growth: zh ? "增速" : "growth"
        case .changeVsBase: zh ? "较\(baseYear.map { "\($0)年" } ?? "基期")" : "vs \(baseYear.map(String.init) ?? "base")"
        }
    }

    /// Seconds as the largest two units, e.g. `3天4小时` / `3 d 4 h`.
    public func duration(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60)
        if zh { return d > 0 ? "\(d)天\(h)小时" : h > 0 ? "\(h)小时\(m)分" : "\(m)分" }
        return d > 0 ? "\(d) d \(h) h" : h > 0 ? "\(h) h \(m) min" : "\(m) min"
    }
}

/// How a report writes figures, targets and shortfalls as text.
enum ReportText {
    /// `%` directly after the number; other units after a space.
    static func suffix(_ unit: String?) -> String {
        guard let unit, !unit.isEmpty else { return "" }
        return unit == "%" ? "%" : " " + unit
    }

    /// The target as the bound compared: `≥ 6.0%`, `≤ -5.7%`, `> 50 家`, or words for rules
    /// without one.
    static func target(_ cell: AnnexCell, unit: String, labels: ReportLabels) -> String {
        guard let target = cell.target else { return "—" }
        let rule = target.rule
        guard let threshold = cell.verdict?.threshold ?? bound(rule), let prefix = boundPrefix(rule, labels: labels) else {
            if case .belowPrevious = rule { return labels.zh ? "低于上年" : "below previous year" }
            return labels.zh ? "完成上级下达目标" : "set by higher authority"
        }
        return prefix + "\(threshold)\(suffix(rule.measure == .level ? unit : "%"))"
    }

    /// What stands before a target's bound: the measure where it is not a level, and the
    /// comparison (`增速 ≥ `, `较2020年 ≤ `, `≥ `); nil for a rule written in words only.
    /// The HTML and CSV texts and the spreadsheet's number formats all use it.
    static func boundPrefix(_ rule: TargetRule, labels: ReportLabels) -> String? {
        let word = measureWord(rule.measure, baseYear: rule.baseYear, labels: labels)
        switch rule {
        case .growthAtLeast, .atLeast: return word + "≥ "
        case .growthPositive, .moreThan: return word + "> "
        case .declineAtLeast, .atMost, .declineVsBaseAtLeast: return word + "≤ "
        case .averageGrowthAtLeast(_, let base): return labels.zh ? "\(base)年起年均增速 ≥ " : "average growth from \(base) ≥ "
        case .belowPrevious: return "< "
        case .assigned: return nil
        }
    }

    /// `增速 ` / `growth ` before a figure of that measure; nothing for a level.
    static func measureWord(_ measure: Measure?, baseYear: Int?, labels: ReportLabels) -> String {
        guard let measure, measure != .level else { return "" }
        return labels.measure(measure, baseYear: baseYear) + " "
    }

    /// The bound a rule compares with, in its measure (nil for rules without a number).
    static func bound(_ rule: TargetRule) -> Figure? {
        switch rule {
        case .growthAtLeast(let v), .atMost(let v), .atLeast(let v), .moreThan(let v), .averageGrowthAtLeast(let v, _): v
        case .declineAtLeast(let v), .declineVsBaseAtLeast(let v, _): -v
        case .growthPositive: Figure(0)
        case .belowPrevious, .assigned: nil
        }
    }

    /// The outcome compared: `3.0%` (the measure said only when it is not the target's, e.g.
    /// `增速 3.0%`), `5515 亿元`, a year to date as `6.1%（至9月）` / `6.1% (Jan–Sep)`; `—` without one.
    static func outcome(_ v: Verdict?, labels: ReportLabels, rule: TargetRule?) -> String {
        guard let v, let actual = v.actual, let measure = v.measure else { return "—" }
        var text = measure == rule?.measure ? "" : measureWord(measure, baseYear: rule?.baseYear, labels: labels)
        text += "\(actual)\(suffix(v.unit))"
        if v.cumulative, let period = v.period {
            if period.year == v.year {
                text += labels.zh ? "（至\(period.endMonth)月）" : " (Jan–\(monthNames[period.endMonth - 1]))"
            } else {
                text += labels.zh ? "（\(period) 累计）" : " (\(period) YTD)"
            }
        }
        if v.derived { text += labels.zh ? "（推算）" : " (derived)" }
        return text
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The shortfall of a missed or at-risk target: `3.0 个百分点` / `3.0 pp`.
    static func shortfall(_ v: Verdict?, labels: ReportLabels) -> String {
        guard let v, let s = v.shortfall, v.status == .missed || v.status == .atRisk else { return "" }
        if v.unit == "%" { return labels.zh ? "\(s) 个百分点" : "\(s) pp" }
        return "\(s)\(suffix(v.unit))"
    }
}
