import Foundation
import Support
import Testing

@testable import Mirror
@testable import PlanCore
@testable import Report

/// Rendering reports without a mirror: texts, escaping, charts, spreadsheet names, atomic files.
@Suite struct ReportRenderingTests {
    static func observation(
        _ indicator: String, _ period: String, _ value: String, measure: Measure = .growth, cumulative: Bool = true,
        feed: String = "annex", priority: Int = 20, revisions: [(value: String, replacedAt: String)] = []
    ) -> ReportObservation {
        ReportObservation(
            indicator: indicator, period: try! Period(parsing: period), measure: measure, cumulative: cumulative, baseYear: nil,
            value: value, unit: "%", feed: feed, priority: priority, firstSeen: "2024-02-15T00:00:00Z",
            updatedAt: "2024-03-15T00:00:00Z", revisions: revisions)
    }

    static func section(title: String = "某区计划", name: String = "地区生产总值", observations: [ReportObservation] = [], verdicts: [Verdict] = [])
        -> PlanSection
    {
        let plan = Plan(
            id: "p", title: title,
            indicators: [
                Indicator(
                    code: "gdp", name: name, nameEN: "GDP", category: .expected, unit: "亿元",
                    targets: [
                        Target(year: 2023, rule: .growthAtLeast(Figure("6.0")!)), Target(year: 2024, rule: .growthAtLeast(Figure("5.0")!)),
                    ]),
                Indicator(
                    code: "land", name: "建设用地", category: .binding, unit: "平方米/万元",
                    targets: [Target(year: 2024, rule: .declineVsBaseAtLeast(Figure("13.5")!, baseYear: 2020))]),
            ], language: .zh)
        let records = PlanReportRecords(
            verdicts: verdicts, observations: observations,
            alerts: [
                ReportAlert(
                    key: "p/gdp/2023/target_missed", alert: "target_missed", severity: "warning", since: "2024-01-20T00:00:00Z", message: "<b>missed</b>"),
                ReportAlert(
                    key: "p/land/2024/target_at_risk", alert: "target_at_risk", severity: "critical", since: "2024-02-20T00:00:00Z",
                    message: "at risk", ackBy: "张三", ackNote: "<i>情况说明</i>：用地指标调整", ackSince: "2024-03-01T00:00:00Z",
                    ackUntil: "2024-06-30T00:00:00Z"),
            ],
            latestData: observations.map(\.updatedAt).max(), judgedAt: "2024-03-15T00:00:00Z")
        return PlanSection(plan: plan, records: records, feeds: [])
    }

    @Test func targetsAreWrittenAsTheBoundComparedInEitherLanguage() {
        let zh = ReportLabels(.zh), en = ReportLabels(.en)
        func text(_ rule: TargetRule, _ labels: ReportLabels, unit: String = "家") -> String {
            ReportText.target(AnnexCell(year: 2024, target: Target(year: 2024, rule: rule), verdict: nil), unit: unit, labels: labels)
        }
        #expect(text(.growthAtLeast(Figure("6.0")!), zh) == "增速 ≥ 6.0%")
        #expect(text(.growthAtLeast(Figure("6.0")!), en) == "growth ≥ 6.0%")
        #expect(text(.growthPositive, zh) == "增速 > 0%")
        #expect(text(.declineAtLeast(Figure("3.5")!), zh) == "增速 ≤ -3.5%")
        #expect(text(.declineVsBaseAtLeast(Figure("13.5")!, baseYear: 2020), zh) == "较2020年 ≤ -13.5%")
        #expect(text(.declineVsBaseAtLeast(Figure("13.5")!, baseYear: 2020), en) == "vs 2020 ≤ -13.5%")
        #expect(text(.averageGrowthAtLeast(Figure("5")!, baseYear: 2020), zh) == "2020年起年均增速 ≥ 5%")
        #expect(text(.atLeast(Figure("20")!), zh) == "≥ 20 家")
        #expect(text(.atMost(Figure("2.0")!), zh, unit: "%") == "≤ 2.0%")
        #expect(text(.moreThan(Figure("50")!), en) == "> 50 家")
        #expect(text(.belowPrevious, zh) == "低于上年")
        #expect(text(.assigned, en) == "set by higher authority")
        #expect(ReportText.target(AnnexCell(year: 2024, target: nil, verdict: nil), unit: "", labels: zh) == "—")
    }

    @Test func textFromPlansAndFeedsIsEscapedInHTMLAndDefusedInCSV() {
        let hostile = Self.section(title: "<script>alert(1)</script>", name: "\"A&B\" <img src=x onerror=alert(1)>")
        let report = Report(generatedAt: Date(timeIntervalSince1970: 1_710_000_000), language: nil, plans: [hostile])
        let html = HTMLReport.render(report)
        #expect(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>missed"))
        #expect(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && html.contains("&quot;A&amp;B&quot; &lt;img"),
            "\(html.components(separatedBy: "A&amp;B").dropFirst().first?.prefix(80) ?? "")")
        #expect(html.contains("&lt;b&gt;missed&lt;/b&gt;"), "alert messages too")
        // An acknowledged alert shows who owns it and the explanation, escaped.
        #expect(
            html.contains("<div class=ack>已确认（张三，2024-03-01T00:00:00Z），至 2024-06-30T00:00:00Z：&lt;i&gt;情况说明&lt;/i&gt;：用地指标调整</div>"),
            "\(html.components(separatedBy: "class=ack").dropFirst().first?.prefix(200) ?? "no ack")")
        let formula = Self.section(name: "=HYPERLINK(\"http://x\",\"y\")")
        let csv = CSVReport.render(Report(generatedAt: Date(), language: nil, plans: [formula]))
        #expect(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","), "quoted, doubled quotes, and a leading ' against formulas")
        #expect(CSVReport.line(["-3.5", "-x", "+1", "@a", "a,b", "l1\nl2"]) == "-3.5,'-x,+1,'@a,\"a,b\",\"l1\nl2\"\r\n")
    }

    @Test func theChartDrawsYearsRevisionsConflictsAndTargets() throws {
        let observations = [
            Self.observation("gdp", "2023-06", "5.1"), Self.observation("gdp", "2023-12", "5.6"),
            Self.observation("gdp", "2024-03", "4.2", revisions: [("4.6", "2024-05-01T00:00:00Z")]),
            Self.observation("gdp", "2024-03", "4.9", feed: "report", priority: 10),
            Self.observation("gdp", "2024-06", "4.4"),
        ]
        let section = Self.section(observations: observations)
        let row = try #require(section.rows.first)
        let chart = try #require(Chart(row, shownYears: section.years))
        #expect(chart.series.map(\.count) == [2, 2], "a line a year: year-to-date figures start again in January")
        #expect(chart.earlier.map(\.text) == ["4.6"] && chart.conflicts.map(\.feed) == ["report"])
        #expect(chart.targets.map(\.value) == [6.0, 5.0])
        let svg = chart.svg(title: "地区生产总值", labels: ReportLabels(.zh))
        #expect(svg.components(separatedBy: "class=ln").count == 3)
        #expect(svg.contains("class=ro") && svg.contains("修订前: 2024-03 4.6") && svg.contains("class=cf") && svg.contains("report 4.9"))
        #expect(svg.components(separatedBy: "class=tg").count == 2 && svg.contains("增速 %") && svg.contains(">2023<") && svg.contains(">2024<"))
        #expect(!svg.contains("http"), "no external reference")
        // No figure in the measure the targets compare: no chart.
        let empty = Self.section(observations: [Self.observation("gdp", "2024", "100", measure: .level, cumulative: false)])
        #expect(Chart(empty.rows[0], shownYears: empty.years) == nil)
    }

    @Test func ticksAreRound() {
        #expect(Chart.ticks(0, 7) == (0, 8, 2))
        #expect(Chart.ticks(-11.6, 6) == (-15, 10, 5))
        #expect(Chart.ticks(3, 3) == (2, 4, 0.5))
        #expect(Chart.label(2.5, step: 2.5) == "2.5" && Chart.label(3.25, step: 0.25) == "3.25" && Chart.label(1e-17, step: 5) == "0")
    }

    @Test func sheetNamesAndNumberFormatsAreOnesExcelAccepts() {
        var taken = Set<String>()
        #expect(XLSXReport.sheetName("a/b:c", taken: &taken) == "a_b_c")
        #expect(XLSXReport.sheetName("A/B:C", taken: &taken) == "A_B_C~2", "names are unique regardless of case")
        let long = String(repeating: "x", count: 40)
        #expect(XLSXReport.sheetName(long, taken: &taken).count == 31)
        #expect(XLSXReport.sheetName(long, taken: &taken) == String(repeating: "x", count: 29) + "~2")
        #expect(XLSXReport.numberFormat(prefix: "增速 ≥ ", decimals: 1, suffix: "%") == "\"增速 ≥ \"0.0\"%\"")
        #expect(XLSXReport.numberFormat(prefix: "", decimals: 0, suffix: " 万\"元") == "0\" 万元\"")
    }

    @Test func theIndexRendersOnlyThePlansThatChanged() throws {
        let folder = NSTemporaryDirectory() + "plansync-report-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = Self.section()
        var other = first
        other.plan.id = "q"
        other.plan.title = "另一计划"
        let reads = Locked<[String]>([])
        func write(_ plans: [PlanSection], changed: Set<String>?) throws -> [String] {
            try ReportFiles.writeDirectory(plans: plans.map(\.plan), feeds: [], summaries: [:], changed: changed, to: folder) { plan, _ in
                reads.withLock { $0.append(plan) }
                return plans.first { $0.plan.id == plan }!.records
            }
        }
        #expect(try write([first, other], changed: nil) == ["p", "q"])
        let index = try String(contentsOfFile: folder + "/index.html", encoding: .utf8)
        #expect(index.contains("某区计划") && index.contains("另一计划") && index.contains("<nav>"))
        #expect(index.hasSuffix("</body></html>\n") && !index.contains("<!-- latest"), "the parts' first lines stay out of the page")
        // Nothing changed: no plan read again, the index rebuilt from the parts.
        reads.withLock { $0 = [] }
        #expect(try write([first, other], changed: []) == [])
        #expect(reads.current.isEmpty)
        #expect(try String(contentsOfFile: folder + "/index.html", encoding: .utf8).contains("另一计划"))
        // One changed: that one only. A plan removed: its part goes, the index no longer shows it.
        #expect(try write([first, other], changed: ["q"]) == ["q"] && reads.current == ["q"])
        #expect(try write([first], changed: []) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/.sections") == ["p.part"])
        #expect(!(try String(contentsOfFile: folder + "/index.html", encoding: .utf8)).contains("另一计划"))
        // A part deleted by hand is written again.
        try FileManager.default.removeItem(atPath: folder + "/.sections/p.part")
        #expect(try write([first], changed: []) == ["p"])
    }

    @Test func aFailedWriteLeavesTheOldFileAndNoTemporaryOne() throws {
        let folder = NSTemporaryDirectory() + "plansync-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let report = Report(generatedAt: Date(), language: nil, plans: [Self.section()])
        #expect(throws: ReportError.self) { try ReportFiles.write(Array("x".utf8), to: folder + "/missing/report.html") }
        #expect(throws: ReportError.self) { try ReportFiles.writeXLSX(report, to: folder + "/missing/report.xlsx") }
        // The directory: the second plan cannot be read, so index.html stays as it was.
        try ReportFiles.writeDirectory(plans: [report.plans[0].plan], feeds: [], summaries: [:], changed: nil, to: folder) { _, _ in
            report.plans[0].records
        }
        let before = try String(contentsOfFile: folder + "/index.html", encoding: .utf8)
        var second = report.plans[0].plan
        second.id = "q"
        #expect(throws: ReportError.self) {
            try ReportFiles.writeDirectory(plans: [report.plans[0].plan, second], feeds: [], summaries: [:], changed: nil, to: folder) {
                plan, _ throws(MirrorError) in
                guard plan == "p" else { throw MirrorError.wrap(CocoaError(.fileReadNoPermission), path: "mirror.sqlite") }
                return report.plans[0].records
            }
        }
        #expect(try String(contentsOfFile: folder + "/index.html", encoding: .utf8) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == [".sections", "index.html", "p.html", "p.xlsx"])
        // A file where the directory should be: a clear error.
        try "x".write(toFile: folder + "/file", atomically: true, encoding: .utf8)
        #expect(throws: ReportError.self) {
            try ReportFiles.writeDirectory(plans: [], feeds: [], summaries: [:], changed: nil, to: folder + "/file") { _, _ in report.plans[0].records }
        }
    }
}
