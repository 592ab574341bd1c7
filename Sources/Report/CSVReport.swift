import Foundation
import PlanCore

/// The annex table as CSV: UTF-8 with a byte order mark (so Excel and WPS read it as UTF-8),
/// CRLF line ends, one row per indicator with the same texts as the HTML table; with several
/// plans, a plan column and the years of all of them.
public enum CSVReport {
    public static func render(_ report: Report) -> String {
        let labels = ReportLabels(report.documentLanguage)
        let years = Array(Set(report.plans.flatMap(\.years))).sorted()
        var header = [labels.zh ? "规划" : "Plan", labels.number, labels.indicator, labels.zh ? "指标代码" : "Code", labels.category, labels.unit]
        for year in years {
            header += [labels.target(year), labels.outcome(year), "\(year) \(labels.status)", "\(year) \(labels.shortfall)", "\(year) \(labels.pace)"]
        }
        var out = "\u{FEFF}" + line(header)
        for section in report.plans {
            let labels = ReportLabels(report.language ?? section.plan.language)
            for row in section.rows {
                var cells = [
                    section.plan.id, String(row.number), row.indicator.name(labels.language), row.indicator.code,
                    labels.category(row.indicator.category), row.indicator.unit,
                ]
                for year in years {
                    guard let cell = row.cells.first(where: { $0.year == year }) else {
                        cells += ["", "", "", "", ""]
                        continue
                    }
                    let v = cell.verdict
                    cells += [
                        ReportText.target(cell, unit: row.indicator.unit, labels: labels),
                        ReportText.outcome(v, labels: labels, rule: cell.target?.rule),
                        labels.status(v), ReportText.shortfall(v, labels: labels),
                        v.flatMap { PaceText.phrase($0, language: labels.language) } ?? "",
                    ]
                }
                out += line(cells)
            }
        }
        return out
    }

    /// One CSV record (RFC 4180): fields quoted when they hold a comma, quote or line break;
    /// a field starting with `=`, `+`, `-` or `@` that is not a number gets a leading `'`, so
    /// a spreadsheet does not run text from a feed or plan file as a formula.
    static func line(_ fields: [String]) -> String {
        fields.map { field -> String in
            var field = field
            if let first = field.first, "=+-@".contains(first), Double(field) == nil { field = "'" + field }
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",") + "\r\n"
    }
}
