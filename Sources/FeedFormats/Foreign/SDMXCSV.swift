import Foundation
import PlanCore

/// SDMX-CSV 1.0 (`DATAFLOW,...`) and 2.0 (`STRUCTURE,STRUCTURE_ID,ACTION,...`) data:
/// one observation per row, `TIME_PERIOD` and `OBS_VALUE` columns, every other column a
/// dimension or attribute that maps can match. `labels=both` (`CN: China`) is understood.
public enum SDMXCSV {
    static let special: Set<String> = ["DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "ACTION", "TIME_PERIOD", "OBS_VALUE", "UNIT_MULT"]

    /// Parses records as they are read (the reader streams).
    public static func parse(_ reader: CSVReader, options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        var reader = reader
        // The separator is the more frequent of ',' and ';' in the header, not counting the
        // sub-value separators SDMX-CSV 2.0 declares in brackets (`STRUCTURE[;]`).
        let first = withoutDeclaredSeparators(reader.firstLine())
        let commas = first.filter { $0 == UInt8(ascii: ",") }.count
        let semicolons = first.filter { $0 == UInt8(ascii: ";") }.count
        if semicolons > commas { reader.separator = UInt8(ascii: ";") }
        guard let header = reader.next() else {
            if let error = reader.error { throw error }
            throw FeedParseError("empty body: expected an SDMX-CSV header (DATAFLOW,... or STRUCTURE,STRUCTURE_ID,ACTION,...)", line: 1)
        }
        // A header may declare a column's sub-value separator: `STRUCTURE[;]`, `ATTR[|]`.
        let declared = header.fields.map { splitDeclaration(code($0.trimmingASCIISpaces())) }
        let names = declared.map(\.name)
        let multiValued = Set(declared.indices.filter { declared[$0].separator != nil })
        guard let firstName = names.first, firstName == "DATAFLOW" || firstName == "STRUCTURE" else {
            throw FeedParseError(
                "not SDMX-CSV: the first column must be DATAFLOW (1.0) or STRUCTURE (2.0), found '\(DisplayText.excerpt(names.first ?? ""))'",
                line: header.line, column: 1)
        }
        guard let timeColumn = names.firstIndex(of: "TIME_PERIOD") ?? names.firstIndex(of: "TIME") else {
            throw FeedParseError(
                "the message has no time dimension: no TIME_PERIOD column among \(DisplayText.excerpt(names.joined(separator: ", "), limit: 300)), and plansync needs a period for every observation; request the data with its time dimension, or read the file with format = \"table-csv\" naming the period column in columns.period",
                line: header.line)
        }
        guard let valueColumn = names.firstIndex(of: "OBS_VALUE") else {
            throw FeedParseError("no OBS_VALUE column in the header", line: header.line)
        }
        let actionColumn = names.firstIndex(of: "ACTION")
        let multColumn = names.firstIndex(of: "UNIT_MULT")
        let unitColumn = names.firstIndex(of: "UNIT_MEASURE") ?? names.firstIndex(of: "UNIT")
        let dimensionColumns = names.indices.filter { !special.contains(names[$0]) && $0 != timeColumn }
        var mapper = RecordMapper(options: options)
        var deleted = 0
        while let record = reader.next() {
            func cell(_ i: Int) -> String { i < record.fields.count ? record.fields[i].trimmingASCIISpaces() : "" }
            if let actionColumn, code(cell(actionColumn)) == "D" {
                deleted += 1
                continue
            }
            let periodText = code(cell(timeColumn))
            guard let period = ForeignPeriod.sdmx(periodText) else {
                throw FeedParseError(
                    "invalid TIME_PERIOD '\(DisplayText.excerpt(periodText))' (allowed: 2023, 2023-A1, 2023-S1, 2023-Q3, 2023-M03, 2023-03, 2023-W05, 2023-03-15)",
                    line: record.line, column: timeColumn + 1)
            }
            var multiplier = 0
            if let multColumn, !cell(multColumn).isEmpty {
                guard let m = Int(code(cell(multColumn))), (-30...30).contains(m) else {
                    throw FeedParseError(
                        "UNIT_MULT '\(DisplayText.excerpt(cell(multColumn)))' is not a power of ten", line: record.line, column: multColumn + 1)
                }
                multiplier = m
            }
            for i in [timeColumn, valueColumn] + (multColumn.map { [$0] } ?? []) where cell(i).hasPrefix("[") && cell(i).hasSuffix("]") {
                throw FeedParseError(
                    "\(names[i]) holds several values '\(DisplayText.excerpt(cell(i)))'; plansync reads one value per row here",
                    line: record.line, column: i + 1)
            }
            var dimensions: [String: String] = [:]
            for i in dimensionColumns {
                var value = code(cell(i))
                // A multi-valued attribute cell (`[a;b]`): kept as its values without the brackets.
                if value.hasPrefix("["), value.hasSuffix("]"), value.count >= 2, multiValued.contains(i) || value.count > 2 {
                    value = String(value.dropFirst().dropLast())
                }
                dimensions[names[i]] = value
            }
            var valueText = cell(valueColumn)
            if reader.separator == UInt8(ascii: ";"), valueText.range(of: #"^-?\d+,\d+$"#, options: .regularExpression) != nil {
                valueText = valueText.replacingOccurrences(of: ",", with: ".")  // decimal comma with ';' separators
            }
            switch ForeignValue.parse(valueText) {
            case .missing: mapper.addMissing()
            case .invalid:
                throw FeedParseError("OBS_VALUE '\(DisplayText.excerpt(cell(valueColumn)))' is not a number", line: record.line, column: valueColumn + 1)
            case .number(let value):
                try mapper.add(
                    dimensions: dimensions, period: period, value: value, unitMultiplier: multiplier,
                    unit: unitColumn.map { code(cell($0)) }, location: "line \(record.line)")
            }
        }
        if let error = reader.error { throw error }
        var result = mapper.result()
        result.skipped += deleted
        return result
    }

    /// A header name and the sub-value separator it declares: `STRUCTURE[;]` → (`STRUCTURE`, `;`).
    static func splitDeclaration(_ name: String) -> (name: String, separator: Character?) {
        guard name.hasSuffix("]"), let open = name.lastIndex(of: "["),
            name.distance(from: open, to: name.endIndex) == 3
        else { return (name, nil) }
        return (String(name[..<open]), name[name.index(after: open)])
    }

    /// The header line without its bracketed separator declarations (`[;]`, `[,]`).
    static func withoutDeclaredSeparators(_ line: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var i = 0
        while i < line.count {
            if line[i] == UInt8(ascii: "["), i + 2 < line.count, line[i + 2] == UInt8(ascii: "]") {
                i += 3
                continue
            }
            out.append(line[i])
            i += 1
        }
        return out
    }

    /// The code of a `labels=both` cell or header: `CN: China` → `CN`.
    static func code(_ text: String) -> String {
        guard let range = text.range(of: ": ") else { return text }
        return String(text[..<range.lowerBound])
    }
}
