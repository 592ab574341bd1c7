import Foundation
import Mirror
import PlanCore
import Support

/// HTML text escaping.
enum HTML {
    /// `text` safe inside element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// The report as one self-contained HTML page: no external resource, no script, the reader's
/// system fonts (with CJK fallbacks), colours that always come with a word, and a print
/// stylesheet for A4 (docs/reports.md).
public enum HTMLReport {
    /// The whole page for `report`.
    public static func render(_ report: Report) -> String {
        let labels = ReportLabels(report.documentLanguage)
        var out = head(
            labels: labels, plans: report.plans.map(\.plan), generatedAt: report.generatedAt, latestData: report.latestData,
            landscape: report.plans.contains { $0.years.count > 2 },
            contents: report.plans.count > 1 ? report.plans.map { ($0.plan, counts($0.records.verdicts, years: $0.years)) } : nil)
        // Plans rendered on every core, joined in order.
        let compact = report.plans.count > 1
        out += report.plans.concurrentMap { section in
            render(section, asked: report.language, document: labels.language, generatedAt: report.generatedAt, compact: compact)
        }.joined()
        return out + tail(labels: labels, latestData: nil)
    }

    /// A page of several plans read from `mirror` and rendered on every core, each plan's
    /// records dropped once its section is written (memory holds the text, not a province's
    /// figures). Nil when none of the plans has a verdict yet.
    public static func render(
        mirror: Mirror, plans: [Plan], year: Int? = nil, language: PlanLanguage? = nil, now: Date = Date()
    ) async throws(MirrorError) -> String? {
        let feeds = PlanSection.feedsByPlan(try await mirror.feedStatuses())
        let labels = ReportLabels(language ?? plans.first?.language ?? .zh)
        let compact = plans.count > 1
        let rendered = plans.concurrentMap { plan in
            Result { () throws(MirrorError) in try mirror.reportRecordsNow(plan: plan.id, history: !compact) }.map { records in
                let section = PlanSection(plan: plan, records: records, feeds: feeds[plan.id] ?? [], year: year)
                return (
                    html: render(section, asked: language, document: labels.language, generatedAt: now, compact: compact),
                    counts: counts(records.verdicts, years: section.years), latest: records.latestData,
                    judged: !records.verdicts.isEmpty, landscape: section.years.count > 2
                )
            }
        }
        var sections: [(html: String, counts: [VerdictStatus: Int], latest: String?, judged: Bool, landscape: Bool)] = []
        for result in rendered { sections.append(try result.get()) }
        guard sections.contains(where: \.judged) else { return nil }
        var out = head(
            labels: labels, plans: plans, generatedAt: now, latestData: sections.compactMap(\.latest).max(),
            landscape: sections.contains(where: \.landscape), contents: compact ? zip(plans, sections).map { ($0, $1.counts) } : nil)
        for section in sections { out += section.html }
        return out + tail(labels: labels, latestData: nil)
    }

    /// The page up to the first plan: title, when it was made, the latest data it reflects
    /// (nil: said at the end instead, for a page written plan by plan) and, for several
    /// plans, the contents with each plan's counts by status.
    static func head(
        labels: ReportLabels, plans: [Plan], generatedAt: Date, latestData: String?, landscape: Bool,
        contents: [(plan: Plan, counts: [VerdictStatus: Int])]?
    ) -> String {
        let zone = plans.first?.zone ?? TimeZone(identifier: "UTC")!
        let title = plans.count == 1 ? plans[0].title(labels.language) : labels.reportTitle
        var out = "<!DOCTYPE html>\n<html lang=\(labels.htmlLang)><head><meta charset=utf-8>"
        out += "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
        out += "<meta name=generator content=plansync><title>\(HTML.escape(title))</title><style>"
        out += stylesheet(landscape: landscape) + "</style></head><body>\n"
        out += "<header><h1>\(HTML.escape(title))</h1><p class=meta>\(labels.generated) " + ReleaseSchedule.localText(generatedAt, zone: zone)
        if let latestData { out += " · \(labels.latestData) \(HTML.escape(latestData))" }
        out += "</p></header>\n"
        if let contents {
            out += "<nav><h2>\(labels.contents)</h2><ol>"
            for (plan, counts) in contents {
                out += "<li><a href=\"#p-\(HTML.escape(plan.id))\">\(HTML.escape(plan.title(labels.language)))</a> " + summary(counts, labels: labels)
            }
            out += "</ol></nav>\n"
        }
        return out
    }

    /// The end of the page; `latestData` when the head did not say it.
    static func tail(labels: ReportLabels, latestData: String??) -> String {
        guard case .some(let latest) = latestData else { return "</body></html>\n" }
        return "<footer><p class=meta>\(labels.latestData) \(latest.map(HTML.escape) ?? labels.never)</p></footer></body></html>\n"
    }

    /// One plan: annex table, charts, firing alerts, feeds.
    /// `compact` (several plans in one document): each indicator's chart is a sparkline in its
    /// row of the annex; the plan's own page has the full charts.
    static func render(_ section: PlanSection, asked: PlanLanguage?, document: PlanLanguage, generatedAt: Date, compact: Bool = false)
        -> String
    {
        let language = asked ?? section.plan.language
        let labels = ReportLabels(language)
        let plan = section.plan
        var out = "<section id=\"p-\(HTML.escape(plan.id))\""
        if language != document { out += " lang=\(labels.htmlLang)" }
        out += "><h2>\(HTML.escape(plan.title(language)))</h2><p class=meta>"
        if let region = plan.region { out += HTML.escape(region) + " · " }
        out += "\(labels.judged) \(section.records.judgedAt.map(HTML.escape) ?? labels.never) · "
        out += "\(labels.latestData) \(section.records.latestData.map(HTML.escape) ?? labels.never)</p>\n"
        out += annex(section, labels: labels, sparklines: compact)
        // Charts.
        var charts = ""
        for row in section.rows where !compact {
            let name = row.indicator.name(language)
            guard let chart = Chart(row, shownYears: section.years) else { continue }
            charts += "<figure>" + chart.svg(title: name, labels: labels)
            charts += "<figcaption>\(row.number). \(HTML.escape(name))</figcaption></figure>\n"
        }
        if !charts.isEmpty {
            out +=
                "<h3>\(labels.charts)</h3><p class=legend><span class=k-ln></span>\(labels.legendOutcome) "
                + "<span class=k-tg></span>\(labels.targetLine) <span class=k-ro></span>\(labels.earlier) "
                + "<span class=k-cf></span>\(labels.conflict)</p><div class=charts>\n" + charts + "</div>\n"
        }
        // Firing alerts.
        out += "<h3>\(labels.alerts)</h3>"
        if section.records.alerts.isEmpty {
            out += "<p>\(labels.noAlerts)</p>\n"
        } else {
            // A page of several plans says since when (it is rendered once and kept until the
            // plan changes, so a duration would grow stale); the plan's own page says both.
            out += "<table class=list><thead><tr><th>\(labels.severity)<th>\(labels.message)<th>\(labels.since)"
            out += (compact ? "" : "<th>\(labels.firingFor)") + "</thead><tbody>\n"
            for alert in section.records.alerts {
                let since = Timestamp.date(alert.since) ?? Timestamp.rfc3339(alert.since)
                out +=
                    "<tr><td class=\(alert.severity == "critical" ? "s-missed" : "s-at_risk")>"
                    + (alert.severity == "critical" ? (labels.zh ? "严重" : "critical") : (labels.zh ? "警告" : "warning"))
                var ack = ""
                if let by = alert.ackBy, let note = alert.ackNote {
                    // The explanation (情况说明) under the alert: it is still firing, and owned.
                    let until = alert.ackUntil.map { labels.zh ? "，至 \($0)" : ", until \($0)" } ?? ""
                    ack = "<div class=ack>\(HTML.escape(labels.acknowledgedBy(by, since: alert.ackSince ?? "") + until))："
                    ack = labels.zh ? ack : String(ack.dropLast()) + ": "
                    ack += HTML.escape(note) + "</div>"
                }
                out +=
                    "<td>\(HTML.escape(alert.message))\(ack)<td>\(HTML.escape(alert.since))"
                    + (compact ? "" : "<td>" + (since.map { labels.duration(generatedAt.timeIntervalSince($0)) } ?? "")) + "\n"
            }
            out += "</tbody></table>\n"
        }
        // Feeds.
        out += "<h3>\(labels.feeds)</h3>"
        if section.feeds.isEmpty {
            out += "<p>\(labels.noFeeds)</p>\n"
        } else {
            out += "<table class=list><thead><tr><th>\(labels.feed)<th>\(labels.lastSuccess)<th>\(labels.failures)<th>\(labels.lastError)</thead><tbody>\n"
            for feed in section.feeds {
                out += "<tr><td>\(HTML.escape(feed.id))<td>\(feed.lastSuccessAt.map(HTML.escape) ?? labels.never)"
                out += "<td class=\(feed.consecutiveFailures > 0 ? "\"num s-missed\"" : "num")>\(feed.consecutiveFailures)"
                out += "<td>\(feed.lastError.map { HTML.escape(Redaction.text($0)) } ?? "")\n"
            }
            out += "</tbody></table>\n"
        }
        return out + "</section>\n"
    }

    /// The annex table: per indicator, per year the target, the outcome, the status as a word
    /// with its colour, the shortfall and (where it applies) the pace.
    static func annex(_ section: PlanSection, labels: ReportLabels, sparklines: Bool = false) -> String {
        let language = labels.language
        let pace = section.years.map { year in section.rows.contains { row in row.cells.contains { $0.year == year && $0.verdict?.pace != nil } } }
        // Each year's first column ruled off by its <col>, not a class on every cell.
        var out = "<table class=annex><colgroup><col span=\(sparklines ? 5 : 4)>"
        for i in section.years.indices { out += "<col class=yr>" + (pace[i] ? "<col span=4>" : "<col span=3>") }
        out += "</colgroup><thead><tr><th rowspan=2>\(labels.number)<th rowspan=2>\(labels.indicator)"
        out += "<th rowspan=2>\(labels.category)<th rowspan=2>\(labels.unit)"
        if sparklines { out += "<th rowspan=2>\(labels.trend)" }
        for (i, year) in section.years.enumerated() { out += "<th colspan=\(pace[i] ? 5 : 4) class=yr>\(year)" }
        out += "<tr>"
        for i in section.years.indices {
            out += "<th>\(labels.zh ? "目标" : "Target")<th>\(labels.zh ? "完成" : "Outcome")<th>\(labels.status)<th>\(labels.shortfall)"
            if pace[i] { out += "<th>\(labels.pace)" }
        }
        out += "</thead><tbody>\n"
        for row in section.rows {
            let indicator = row.indicator
            out += "<tr><td>\(row.number)<td>\(HTML.escape(indicator.name(language)))<td>\(labels.category(indicator.category))"
            out += "<td>\(HTML.escape(indicator.unit))"
            if sparklines { out += "<td>" + (Chart(row, shownYears: section.years)?.sparkline() ?? "") }
            for (i, cell) in row.cells.enumerated() {
                let v = cell.verdict
                out += "<td>\(HTML.escape(ReportText.target(cell, unit: indicator.unit, labels: labels)))"
                out += "<td>\(HTML.escape(ReportText.outcome(v, labels: labels, rule: cell.target?.rule)))"
                out += v.map { "<td class=s-\($0.status.rawValue)>" } ?? "<td>"
                out += HTML.escape(labels.status(v)) + "<td>" + HTML.escape(ReportText.shortfall(v, labels: labels))
                if pace[i] { out += "<td class=pc>" + (v.flatMap { PaceText.phrase($0, language: language) }.map(HTML.escape) ?? "") }
            }
            out += "\n"
        }
        return out + "</tbody></table>\n"
    }

    /// Verdicts by status, for `years`.
    static func counts(_ verdicts: [Verdict], years: [Int]) -> [VerdictStatus: Int] {
        var counts: [VerdictStatus: Int] = [:]
        for v in verdicts where years.contains(v.year) { counts[v.status, default: 0] += 1 }
        return counts
    }

    /// `未完成 4 完成 6` for the contents, each in its status colour.
    static func summary(_ counts: [VerdictStatus: Int], labels: ReportLabels) -> String {
        VerdictStatus.allCases.compactMap { status -> String? in
            guard let n = counts[status] else { return nil }
            let sample = Verdict(plan: "", indicator: "", year: 0, status: status, rule: .assigned)
            return "<span class=s-\(status.rawValue)>\(labels.status(sample)) \(n)</span>"
        }.joined(separator: " ")
    }

    /// The stylesheet: screen and print (A4; landscape when a plan shows more than two years).
    static func stylesheet(landscape: Bool) -> String {
        """
        :root{--ok:#1a7f37;--bad:#c62828;--risk:#b26a00;--track:#0b7285;--none:#6b7280}
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Hiragino Sans GB","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:1.5em;color:#111;line-height:1.4}
        h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.25em;margin:1.5em 0 .2em;border-bottom:2px solid #333}h3{font-size:1.05em;margin:1.2em 0 .4em}
        .meta{color:#444;margin:.2em 0 .8em}
        table{border-collapse:collapse;font-size:.85em;margin:.3em 0}th,td{border:1px solid #999;padding:2px 5px;vertical-align:top}
        th{background:#eef0f3;font-weight:600}td.num,.annex td:first-child{text-align:right}.annex col.yr,th.yr{border-left:2px solid #555}
        [class^=s-]{font-weight:600;white-space:nowrap}.pc{font-size:.9em;color:#333}
        .s-met{color:#fff;background:var(--ok)}.s-missed{color:#fff;background:var(--bad)}.s-at_risk{color:#000;background:#ffd166}
        .ack{margin-top:.2em;font-size:.9em;color:#333;border-left:3px solid #888;padding-left:.4em}
        .s-on_track{color:#fff;background:var(--track)}.s-no_data,.s-awaiting_target{color:#333;background:#e5e7eb}
        nav [class^=s-]{font-size:.8em;padding:0 4px;margin-right:2px}
        .charts{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;border:1px solid #ddd;padding:4px;break-inside:avoid}
        figcaption{font-size:.85em}figure svg{width:340px;height:150px;display:block}td>svg{width:90px;height:22px;display:block}
        td>svg .ln{stroke-width:1.2}td>svg .tg{stroke-width:1;stroke-dasharray:3 2}td>svg .pt{stroke-width:3}
        figure text{font-size:9px;fill:#333;text-anchor:middle}figure .y{text-anchor:end}figure .a{text-anchor:start;fill:#555}
        .ax{stroke:#333;fill:none}.gr{stroke:#ddd;fill:none}.ln{stroke:#1f4e99;stroke-width:1.6;fill:none}
        .pt{stroke:#1f4e99;stroke-width:4;stroke-linecap:round}
        .tg{stroke:var(--bad);stroke-width:1.4;stroke-dasharray:5 3;fill:none}.rv{stroke:#1f4e99;stroke-opacity:.35;stroke-dasharray:2 2}
        .ro{stroke:#1f4e99;stroke-opacity:.3;stroke-width:5;stroke-linecap:round}.cf{fill:#fff;stroke:#7b1fa2;stroke-width:1.3}
        .legend span{display:inline-block;width:18px;height:0;margin:0 4px 3px 10px;border-top:2px solid #1f4e99}
        .legend .k-tg{border-top:2px dashed var(--bad)}.legend .k-ro{width:7px;height:7px;border:0;border-radius:50%;background:#1f4e99;opacity:.3}
        .legend .k-cf{width:7px;height:7px;border:1.3px solid #7b1fa2;transform:rotate(45deg)}
        @page{size:A4\(landscape ? " landscape" : "");margin:12mm 10mm}
        @media print{body{margin:0;font-size:8pt}table{width:100%;table-layout:fixed;font-size:7.5pt}th,td{word-break:break-word;overflow-wrap:anywhere;padding:1px 3px}
        thead{display:table-header-group}tr,figure,h3{break-inside:avoid}h3{break-after:avoid}section{break-before:page}header+section,nav+section{break-before:auto}
        th,td,[class^=s-]{-webkit-print-color-adjust:exact;print-color-adjust:exact}figure svg{width:250px;height:110px}.charts{gap:4px}nav{break-after:page}}
        """
    }
}

extension Plan {
    /// The title in `language` (the English title when there is one).
    public func title(_ language: PlanLanguage) -> String { language == .en ? (titleEN ?? title) : title }
}

extension Indicator {
    /// The name in `language` (the English name when there is one).
    public func name(_ language: PlanLanguage) -> String { language == .en ? (nameEN ?? name) : name }
}
