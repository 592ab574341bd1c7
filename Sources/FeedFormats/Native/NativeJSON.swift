import PlanCore

/// plansync's own JSON format: `{"observations": [{"indicator": "gdp", "period": "2022",
/// "measure": "growth", "value": 3.0}, ...]}` with the optional fields of the CSV form.
public enum NativeJSON {
    static let fields = ["indicator", "period", "measure", "value", "unit", "cumulative", "base_year", "note"]

    /// Parses a UTF-8 body. A malformed element fails the whole body.
    public static func parse(_ utf8: [UInt8], options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        let document: JSONValue
        do {
            document = try JSONParser.parse(utf8)
        } catch {
            throw FeedParseError("not valid JSON: \(error.message)", line: error.line, column: error.column, path: error.path)
        }
        guard case .object = document else {
            throw FeedParseError("expected an object {\"observations\": [...]}", path: "")
        }
        guard let list = document["observations"] else {
            throw FeedParseError("missing key \"observations\" (expected {\"observations\": [...]})", path: "")
        }
        guard case .array(let items) = list else {
            throw FeedParseError("\"observations\" must be an array", path: "observations")
        }
        var feed = ParsedFeed()
        var builder = ObservationBuilder(options: options)
        for (i, item) in items.enumerated() {
            let at = "observations[\(i)]"
            guard case .object(let members) = item else {
                throw FeedParseError("each observation must be an object", path: at)
            }
            for (key, _) in members where !fields.contains(key) {
                feed.warnings.add("\(at).\(DisplayText.excerpt(key)) is not a plansync field and is ignored", kind: "field " + key)
            }
            func text(_ key: String) throws(FeedParseError) -> String? {
                switch item[key] {
                case nil, .null?: return nil
                case .string(let s)?: return s.isEmpty ? nil : s
                case .number(let n)?: return n
                case .bool(let b)?: return b ? "true" : "false"
                default: throw FeedParseError("must be a string or number", path: "\(at).\(key)")
                }
            }
            let row = RawRow(
                indicator: try text("indicator"), period: try text("period"), measure: try text("measure"),
                value: try text("value"), unit: try text("unit"), cumulative: try text("cumulative"),
                baseYear: try text("base_year"), note: try text("note"))
            try builder.add(row) { key, message in FeedParseError(message, path: "\(at).\(key)") }
        }
        feed.observations = builder.observations
        feed.emitted = builder.emitted
        feed.skipped = builder.skipped
        return feed
    }
}
