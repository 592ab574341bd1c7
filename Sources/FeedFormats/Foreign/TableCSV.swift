import PlanCore

/// Any CSV table with a header (`table-csv`): `columns` names the period and value
/// columns; every other column is a dimension that `[[feed.map]]` entries match on.
public enum TableCSV {
    /// Parses records as they are read (the reader streams).
    public static func parse(_ reader: CSVReader, options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        var reader = reader
        guard let columns = options.columns else {
            throw FeedParseError("table-csv needs columns = { period = \"...\", value = \"...\" } on the feed")
        }
        guard let header = reader.next() else {
            if let error = reader.error { throw error }
            throw FeedParseError("empty body: expected a header row naming the columns", line: 1)
        }
        let names = header.fields.map { $0.trimmingASCIISpaces() }
        guard let periodColumn = names.firstIndex(of: columns.period) else {
            throw FeedParseError(
                "no column '\(columns.period)' (columns.period) in the header (found: \(DisplayText.excerpt(names.joined(separator: ", "), limit: 300)))",
                line: header.line)
        }
        guard let valueColumn = names.firstIndex(of: columns.value) else {
            throw FeedParseError(
                "no column '\(columns.value)' (columns.value) in the header (found: \(DisplayText.excerpt(names.joined(separator: ", "), limit: 300)))",
                line: header.line)
        }
        let dimensionColumns = names.indices.filter { $0 != periodColumn && $0 != valueColumn }
        var mapper = RecordMapper(options: options)
        while let record = reader.next() {
            func cell(_ i: Int) -> String { i < record.fields.count ? record.fields[i].trimmingASCIISpaces() : "" }
            if record.fields.count > names.count {
                throw FeedParseError(
                    "\(record.fields.count) fields but the header has \(names.count) (quote fields that contain commas)",
                    line: record.line, column: names.count + 1)
            }
            let periodText = cell(periodColumn)
            guard let (period, cumulative) = ForeignPeriod.bureau(periodText) else {
                throw FeedParseError(
                    "invalid period '\(DisplayText.excerpt(periodText))' (allowed: 2023, 2023年, 2023年6月, 2023年1-6月, 2023年第二季度, 2023-Q2, 2023-06)",
                    line: record.line, column: periodColumn + 1)
            }
            var dimensions: [String: String] = [:]
            for i in dimensionColumns { dimensions[names[i]] = cell(i) }
            switch ForeignValue.parse(cell(valueColumn), thousands: true) {
            case .missing: mapper.addMissing()
            case .invalid:
                throw FeedParseError("value '\(DisplayText.excerpt(cell(valueColumn)))' is not a number", line: record.line, column: valueColumn + 1)
            case .number(let value):
                try mapper.add(
                    dimensions: dimensions, period: period, value: value, cumulativeHint: cumulative,
                    location: "line \(record.line)")
            }
        }
        if let error = reader.error { throw error }
        return mapper.result()
    }
}
