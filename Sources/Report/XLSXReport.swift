import CXlsxWriter
import Foundation
import Mirror
import PlanCore
import Support

/// Why a spreadsheet could not be written.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The report as a spreadsheet (libxlsxwriter): one sheet per plan in the annex layout —
/// numbers stored as numbers with number formats that show the comparison and the unit,
/// statuses as text, header frozen, columns wide enough for CJK text — and a sheet with the
/// observations behind it (docs/reports.md).
public enum XLSXReport {
    /// Writes `report` to `path` (replaced if it exists).
    public static func write(_ report: Report, to path: String) throws(ReportError) {
        let directory = (path as NSString).deletingLastPathComponent
        var tmpdir = Array((directory.isEmpty ? "." : directory).utf8CString)
        let workbook: OpaquePointer? = tmpdir.withUnsafeMutableBufferPointer { buffer in
            var options = lxw_workbook_options(constant_memory: 0, tmpdir: buffer.baseAddress, use_zip64: 0)
            return OpaquePointer(workbook_new_opt(path, &options))
        }
        guard let workbook else { throw ReportError("cannot create \(path): libxlsxwriter could not open it") }
        let book = Book(UnsafeMutablePointer(workbook))
        var names = Set<String>()
        for section in report.plans {
            book.annexSheet(section, labels: ReportLabels(report.language ?? section.plan.language), names: &names)
        }
        book.observationsSheet(report, labels: ReportLabels(report.documentLanguage), names: &names)
        let result = workbook_close(UnsafeMutablePointer(workbook))
        guard result == LXW_NO_ERROR else {
            throw ReportError("cannot write \(path): \(String(cString: lxw_strerror(result)))")
        }
    }

    /// A worksheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, unique.
    static func sheetName(_ wanted: String, taken: inout Set<String>) -> String {
        var base = String(wanted.map { "[]:*?/\\".contains($0) ? "_" : $0 })
        if base.isEmpty { base = "plan" }
        var name = String(base.prefix(31))
        var n = 2
        while taken.contains(name.lowercased()) {
            let tail = "~\(n)"
            name = String(base.prefix(31 - tail.count)) + tail
            n += 1
        }
        taken.insert(name.lowercased())
        return name
    }

    /// An Excel number format showing `decimals` decimals between literal `prefix` and `suffix`.
    static func numberFormat(prefix: String, decimals: Int, suffix: String) -> String {
        func literal(_ text: String) -> String { text.isEmpty ? "" : "\"" + text.replacingOccurrences(of: "\"", with: "") + "\"" }
        return literal(prefix) + (decimals > 0 ? "0." + String(repeating: "0", count: decimals) : "0") + literal(suffix)
    }
}

/// One workbook being written: formats made once and reused.
private final class Book {
    let workbook: UnsafeMutablePointer<lxw_workbook>
    private var formats: [Style: UnsafeMutablePointer<lxw_format>] = [:]

    init(_ workbook: UnsafeMutablePointer<lxw_workbook>) { self.workbook = workbook }

    enum Style: Hashable {
        case title, header, text, wrap, integer
        /// A number shown with `decimals` decimals between literal texts.
        case number(prefix: String, decimals: Int, suffix: String)
        case status(VerdictStatus)
    }

    func format(_ style: Style) -> UnsafeMutablePointer<lxw_format> {
        if let known = formats[style] { return known }
        let f = workbook_add_format(workbook)!
        format_set_border(f, UInt8(LXW_BORDER_THIN.rawValue))
        format_set_border_color(f, 0x999999)
        format_set_align(f, UInt8(LXW_ALIGN_VERTICAL_TOP.rawValue))
        switch style {
        case .title:
            format_set_bold(f)
            format_set_font_size(f, 14)
            format_set_border(f, UInt8(LXW_BORDER_NONE.rawValue))
        case .header:
            format_set_bold(f)
            format_set_bg_color(f, 0xEEF0F3)
            format_set_text_wrap(f)
            format_set_align(f, UInt8(LXW_ALIGN_CENTER.rawValue))
        case .text: break
        case .wrap: format_set_text_wrap(f)
        case .integer: format_set_num_format(f, "0")
        case .number(let prefix, let decimals, let suffix):
            format_set_num_format(f, XLSXReport.numberFormat(prefix: prefix, decimals: decimals, suffix: suffix))
        case .status(let status):
            format_set_bold(f)
            let colours: (background: lxw_color_t, text: lxw_color_t)
            switch status {
            case .met: colours = (0x1A7F37, 0xFFFFFF)
            case .missed: colours = (0xC62828, 0xFFFFFF)
            case .onTrack: colours = (0x0B7285, 0xFFFFFF)
            case .atRisk: colours = (0xFFD166, 0x000000)
            case .noData, .awaitingTarget: colours = (0xE5E7EB, 0x333333)
            }
            format_set_bg_color(f, colours.background)
            format_set_font_color(f, colours.text)
        }
        formats[style] = f
        return f
    }

    /// Column widths that fit the text written (CJK characters count two), within bounds.
    struct Widths {
        var columns: [Int: Int] = [:]
        mutating func fit(_ column: Int, _ text: String) {
            // UTF-8 bytes are never fewer than display columns: most cells need no measuring.
            if let known = columns[column], text.utf8.count + 2 <= known { return }
            columns[column] = max(columns[column] ?? 0, min(60, DisplayText.width(text) + 2))
        }
    }

    private func string(_ sheet: UnsafeMutablePointer<lxw_worksheet>, _ row: Int, _ column: Int, _ text: String, _ style: Style, _ widths: inout Widths) {
        worksheet_write_string(sheet, lxw_row_t(row), lxw_col_t(column), text, format(style))
        widths.fit(column, text)
    }

    private func number(
        _ sheet: UnsafeMutablePointer<lxw_worksheet>, _ row: Int, _ column: Int, _ figure: Figure, prefix: String = "", suffix: String,
        _ widths: inout Widths
    ) {
        worksheet_write_number(
            sheet, lxw_row_t(row), lxw_col_t(column), figure.doubleValue, format(.number(prefix: prefix, decimals: figure.scale, suffix: suffix)))
        widths.fit(column, prefix + figure.description + suffix)
    }

    private func finish(_ sheet: UnsafeMutablePointer<lxw_worksheet>, _ widths: Widths, minimum: Int = 6) {
        for (column, width) in widths.columns {
            worksheet_set_column(sheet, lxw_col_t(column), lxw_col_t(column), Double(max(minimum, width)), nil)
        }
    }

    /// The annex sheet of one plan: title, two header rows (year, then target / outcome /
    /// status / shortfall / pace), one row per indicator.
    func annexSheet(_ section: PlanSection, labels: ReportLabels, names: inout Set<String>) {
        let name = XLSXReport.sheetName(section.plan.id, taken: &names)
        let sheet = workbook_add_worksheet(workbook, name)!
        var widths = Widths()
        let language = labels.language
        worksheet_write_string(sheet, 0, 0, section.plan.title(language), format(.title))
        let fixed = [labels.number, labels.indicator, labels.category, labels.unit]
        for (i, text) in fixed.enumerated() {
            worksheet_merge_range(sheet, 1, lxw_col_t(i), 2, lxw_col_t(i), text, format(.header))
            widths.fit(i, text)
        }
        let sub = [labels.zh ? "目标" : "Target", labels.zh ? "完成" : "Outcome", labels.status, labels.shortfall, labels.pace]
        for (y, year) in section.years.enumerated() {
            let first = fixed.count + y * sub.count
            worksheet_merge_range(sheet, 1, lxw_col_t(first), 1, lxw_col_t(first + sub.count - 1), String(year), format(.header))
            for (i, text) in sub.enumerated() { string(sheet, 2, first + i, text, .header, &widths) }
        }
        worksheet_freeze_panes(sheet, 3, 2)
        for (r, row) in section.rows.enumerated() {
            let line = 3 + r
            worksheet_write_number(sheet, lxw_row_t(line), 0, Double(row.number), format(.integer))
            string(sheet, line, 1, row.indicator.name(language), .text, &widths)
            string(sheet, line, 2, labels.category(row.indicator.category), .text, &widths)
            string(sheet, line, 3, row.indicator.unit, .text, &widths)
            for (y, cell) in row.cells.enumerated() {
                let first = fixed.count + y * sub.count
                let v = cell.verdict
                let rule = cell.target?.rule
                let unit = rule?.measure == .level ? row.indicator.unit : "%"
                let suffix = ReportText.suffix(unit)
                // Target: the bound compared, as a number showing its comparison.
                if let rule, let threshold = v?.threshold ?? ReportText.bound(rule), let prefix = ReportText.boundPrefix(rule, labels: labels) {
                    number(sheet, line, first, threshold, prefix: prefix, suffix: suffix, &widths)
                } else {
                    string(sheet, line, first, ReportText.target(cell, unit: row.indicator.unit, labels: labels), .text, &widths)
                }
                if let v, let actual = v.actual {
                    let word = ReportText.measureWord(v.measure, baseYear: rule?.baseYear, labels: labels)
                    number(sheet, line, first + 1, actual, prefix: word, suffix: ReportText.suffix(v.unit), &widths)
                }
                string(sheet, line, first + 2, labels.status(v), v.map { .status($0.status) } ?? .text, &widths)
                if let v, let shortfall = v.shortfall, v.status == .missed || v.status == .atRisk {
                    number(sheet, line, first + 3, shortfall, suffix: v.unit == "%" ? (labels.zh ? " 个百分点" : " pp") : suffix, &widths)
                }
                if let v, let pace = PaceText.phrase(v, language: language) { string(sheet, line, first + 4, pace, .wrap, &widths) }
            }
        }
        widths.columns[1] = max(widths.columns[1] ?? 0, 12)
        finish(sheet, widths)
    }

    /// The observations behind every plan: one row per stored figure, with where and when it
    /// was first seen and its earlier values.
    func observationsSheet(_ report: Report, labels: ReportLabels, names: inout Set<String>) {
        let sheet = workbook_add_worksheet(workbook, XLSXReport.sheetName(labels.observations, taken: &names))!
        var widths = Widths()
        let header = [
            labels.zh ? "规划" : "Plan", labels.indicator, labels.zh ? "指标代码" : "Code", labels.period, labels.measure, labels.cumulative,
            labels.baseYear, labels.value, labels.unit, labels.feed, labels.firstSeen, labels.revised,
        ]
        for (i, text) in header.enumerated() { string(sheet, 0, i, text, .header, &widths) }
        worksheet_freeze_panes(sheet, 1, 0)
        var line = 1
        for section in report.plans {
            let language = report.language ?? section.plan.language
            for row in section.rows {
                for o in row.observations {
                    string(sheet, line, 0, section.plan.id, .text, &widths)
                    string(sheet, line, 1, row.indicator.name(language), .text, &widths)
                    string(sheet, line, 2, o.indicator, .text, &widths)
                    string(sheet, line, 3, o.period.description, .text, &widths)
                    string(sheet, line, 4, o.measure.rawValue, .text, &widths)
                    string(sheet, line, 5, o.cumulative ? (labels.zh ? "是" : "yes") : "", .text, &widths)
                    if let base = o.baseYear { worksheet_write_number(sheet, lxw_row_t(line), 6, Double(base), format(.integer)) }
                    if let figure = Figure(o.value) {
                        number(sheet, line, 7, figure, suffix: "", &widths)
                    } else {
                        string(sheet, line, 7, o.value, .text, &widths)
                    }
                    string(sheet, line, 8, o.unit ?? "", .text, &widths)
                    string(sheet, line, 9, o.feed, .text, &widths)
                    string(sheet, line, 10, o.firstSeen, .text, &widths)
                    let earlier = o.revisions.map { "\($0.value) (\(labels.zh ? "至" : "until") \($0.replacedAt))" }.joined(separator: "; ")
                    if !earlier.isEmpty { string(sheet, line, 11, earlier, .wrap, &widths) }
                    line += 1
                }
            }
        }
        finish(sheet, widths)
    }
}
