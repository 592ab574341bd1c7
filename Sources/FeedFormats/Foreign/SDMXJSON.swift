import PlanCore

/// SDMX-JSON data messages 1.0 (`{header, structure, dataSets}`) and 2.0
/// (`{meta, data: {structures, dataSets}}`), with series-keyed or flat observations.
public enum SDMXJSON {
    /// One dimension or attribute of a structure: its id and its values' ids.
    struct Component {
        var id: String
        var values: [String]
    }

    /// The components of one structure, by attachment level.
    struct Structure {
        var dataSetDimensions: [Component] = []
        var seriesDimensions: [Component] = []
        var observationDimensions: [Component] = []
        var dataSetAttributes: [Component] = []
        var seriesAttributes: [Component] = []
        var observationAttributes: [Component] = []
    }

    public static func parse(_ utf8: [UInt8], options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        let document: JSONValue
        do { document = try JSONParser.parse(utf8) } catch {
            throw FeedParseError("not valid JSON: \(error.message)", line: error.line, column: error.column, path: error.path)
        }
        var structures: [Structure] = []
        let dataSets: [JSONValue]
        var dataSetsPath = "dataSets"
        if let data = document["data"] {
            // 2.0
            guard case .array(let list)? = data["structures"] ?? data["structure"].map({ .array([$0]) }) else {
                throw FeedParseError("SDMX-JSON 2.0 message without data.structures", path: "data")
            }
            for (i, s) in list.enumerated() { structures.append(try structure(s, path: "data.structures[\(i)]")) }
            guard case .array(let sets)? = data["dataSets"] else {
                throw FeedParseError("missing data.dataSets", path: "data")
            }
            dataSets = sets
            dataSetsPath = "data.dataSets"
        } else if let s = document["structure"] {
            structures.append(try structure(s, path: "structure"))
            guard case .array(let sets)? = document["dataSets"] else {
                throw FeedParseError("missing dataSets", path: "")
            }
            dataSets = sets
        } else {
            throw FeedParseError("not an SDMX-JSON data message: expected {header, structure, dataSets} (1.0) or {meta, data} (2.0)", path: "")
        }
        var mapper = RecordMapper(options: options)
        var deleted = 0
        for (d, dataSet) in dataSets.enumerated() {
            let path = "\(dataSetsPath)[\(d)]"
            guard case .object = dataSet else { throw FeedParseError("each dataSet must be an object", path: path) }
            // The dataset's action (SDMX-JSON 1.0 and 2.0): Delete withdraws the observations it
            // lists (they are skipped, like SDMX-CSV's ACTION=D, and may be empty arrays);
            // Append, Replace, Merge and Information carry data and are read.
            if let action = dataSet["action"] {
                guard let text = action.stringValue, let kind = DataSetAction(rawValue: text.lowercased()) else {
                    throw FeedParseError(
                        "unknown dataSet action \(DisplayText.excerpt(action.text)) (allowed: Append, Replace, Merge, Delete, Information)",
                        path: path + ".action")
                }
                if kind == .delete {
                    deleted += countObservations(dataSet)
                    continue
                }
            }
            var structureIndex = 0
            if case .number(let n)? = dataSet["structure"], let i = Int(n) { structureIndex = i }
            guard structures.indices.contains(structureIndex) else {
                throw FeedParseError("structure \(structureIndex) does not exist (\(structures.count) structures)", path: path + ".structure")
            }
            let s = structures[structureIndex]
            var base: [String: String] = [:]
            for dim in s.dataSetDimensions { if let v = dim.values.first { base[dim.id] = v } }
            let dataSetAttributes = try attributeValues(dataSet["attributes"], components: s.dataSetAttributes, path: path + ".attributes")
            if case .object(let series)? = dataSet["series"] {
                for (key, item) in series {
                    let seriesPath = path + ".series" + JSONPath.component(key)
                    var dims = base
                    try resolve(key, into: &dims, components: s.seriesDimensions, path: seriesPath)
                    let seriesAttributes = try attributeValues(
                        item["attributes"], components: s.seriesAttributes,
                        path: seriesPath + ".attributes")
                    guard case .object(let observations)? = item["observations"] else { continue }
                    for (obsKey, obs) in observations {
                        let obsPath = seriesPath + ".observations" + JSONPath.component(obsKey)
                        var obsDims = dims
                        try resolve(obsKey, into: &obsDims, components: s.observationDimensions, path: obsPath)
                        try add(
                            obs, dimensions: obsDims, attributes: dataSetAttributes.merging(seriesAttributes) { $1 },
                            structure: s, path: obsPath, mapper: &mapper)
                    }
                }
            } else if case .object(let observations)? = dataSet["observations"] {
                for (obsKey, obs) in observations {
                    let obsPath = path + ".observations" + JSONPath.component(obsKey)
                    var dims = base
                    try resolve(obsKey, into: &dims, components: s.observationDimensions, path: obsPath)
                    try add(obs, dimensions: dims, attributes: dataSetAttributes, structure: s, path: obsPath, mapper: &mapper)
                }
            }
        }
        var result = mapper.result()
        result.skipped += deleted
        return result
    }

    /// What an SDMX-JSON dataSet's `action` asks of the receiver.
    enum DataSetAction: String {
        case append, replace, merge, delete, information
    }

    /// The observations a dataSet lists (series-keyed or flat).
    private static func countObservations(_ dataSet: JSONValue) -> Int {
        var count = 0
        if case .object(let series)? = dataSet["series"] {
            for (_, item) in series { if case .object(let o)? = item["observations"] { count += o.count } }
        } else if case .object(let o)? = dataSet["observations"] {
            count = o.count
        }
        return count
    }

    private static func add(
        _ obs: JSONValue, dimensions: [String: String], attributes: [String: String], structure s: Structure,
        path: String, mapper: inout RecordMapper
    ) throws(FeedParseError) {
        guard case .array(let cells) = obs, let first = cells.first else {
            throw FeedParseError("an observation must be an array [value, attribute indexes...]", path: path)
        }
        var attrs = attributes
        for (i, component) in s.observationAttributes.enumerated() where i + 1 < cells.count {
            if case .number(let n) = cells[i + 1], let index = Int(n) {
                guard component.values.indices.contains(index) else {
                    throw FeedParseError("attribute \(component.id) index \(index) out of range (\(component.values.count) values)", path: path + "[\(i + 1)]")
                }
                attrs[component.id] = component.values[index]
            }
        }
        var dims = dimensions
        let periodText = dims.removeValue(forKey: "TIME_PERIOD") ?? dims.removeValue(forKey: "TIME") ?? ""
        guard let period = ForeignPeriod.sdmx(periodText) else {
            throw FeedParseError("invalid TIME_PERIOD '\(DisplayText.excerpt(periodText))'", path: path)
        }
        let value: Figure
        switch first {
        case .null:
            mapper.addMissing()
            return
        case .number(let n):
            guard let f = Figure(n) else { throw FeedParseError("value \(n) is out of range", path: path + "[0]") }
            value = f
        case .string(let text):
            switch ForeignValue.parse(text) {
            case .missing:
                mapper.addMissing()
                return
            case .invalid: throw FeedParseError("value '\(DisplayText.excerpt(text))' is not a number", path: path + "[0]")
            case .number(let f): value = f
            }
        default:
            throw FeedParseError("value must be a number, a numeric string or null", path: path + "[0]")
        }
        var multiplier = 0
        if let m = attrs["UNIT_MULT"] {
            guard let n = Int(m), (-30...30).contains(n) else {
                throw FeedParseError("UNIT_MULT '\(DisplayText.excerpt(m))' is not a power of ten", path: path)
            }
            multiplier = n
        }
        for (k, v) in attrs where dims[k] == nil { dims[k] = v }
        try mapper.add(
            dimensions: dims, period: period, value: value, unitMultiplier: multiplier,
            unit: attrs["UNIT_MEASURE"], location: path)
    }

    /// Resolves a key like `0:1:2` into dimension codes.
    private static func resolve(
        _ key: String, into dims: inout [String: String], components: [Component],
        path: String
    ) throws(FeedParseError) {
        let parts = key.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == components.count else {
            throw FeedParseError(
                "key '\(DisplayText.excerpt(key))' has \(parts.count) positions but the structure has \(components.count) dimensions here", path: path)
        }
        for (part, component) in zip(parts, components) {
            guard let i = Int(part), component.values.indices.contains(i) else {
                throw FeedParseError("index '\(DisplayText.excerpt(part))' is out of range for \(component.id) (\(component.values.count) values)", path: path)
            }
            dims[component.id] = component.values[i]
        }
    }

    private static func attributeValues(_ value: JSONValue?, components: [Component], path: String) throws(FeedParseError) -> [String: String] {
        guard case .array(let indexes)? = value else {
            // Attributes with a single value apply whether or not they are referenced.
            return Dictionary(components.compactMap { c in c.values.count == 1 ? (c.id, c.values[0]) : nil }, uniquingKeysWith: { a, _ in a })
        }
        var result: [String: String] = [:]
        for (i, component) in components.enumerated() where i < indexes.count {
            guard case .number(let n) = indexes[i], let index = Int(n) else { continue }
            guard component.values.indices.contains(index) else {
                throw FeedParseError("attribute \(component.id) index \(index) out of range", path: path + "[\(i)]")
            }
            result[component.id] = component.values[index]
        }
        return result
    }

    private static func structure(_ value: JSONValue, path: String) throws(FeedParseError) -> Structure {
        func components(_ v: JSONValue?, _ p: String) throws(FeedParseError) -> [Component] {
            guard let v else { return [] }
            guard case .array(let list) = v else { throw FeedParseError("must be an array", path: p) }
            var result: [Component] = []
            for (i, item) in list.enumerated() {
                guard let id = item["id"]?.stringValue else { throw FeedParseError("component without an id", path: p + "[\(i)]") }
                var values: [String] = []
                if case .array(let vs)? = item["values"] {
                    for v in vs {
                        if let vid = v["id"]?.stringValue {
                            values.append(vid)
                        } else if case .number(let n)? = v["id"] {
                            values.append(n)
                        } else if let name = v["name"]?.stringValue {
                            values.append(name)
                        } else {
                            values.append("")
                        }
                    }
                }
                result.append(Component(id: id, values: values))
            }
            return result
        }
        var s = Structure()
        let dims = value["dimensions"]
        s.dataSetDimensions = try components(dims?["dataSet"], path + ".dimensions.dataSet")
        s.seriesDimensions = try components(dims?["series"], path + ".dimensions.series")
        s.observationDimensions = try components(dims?["observation"], path + ".dimensions.observation")
        let attrs = value["attributes"]
        s.dataSetAttributes = try components(attrs?["dataSet"], path + ".attributes.dataSet")
        s.seriesAttributes = try components(attrs?["series"], path + ".attributes.series")
        s.observationAttributes = try components(attrs?["observation"], path + ".attributes.observation")
        guard !s.observationDimensions.isEmpty else {
            throw FeedParseError("the structure has no observation dimension (TIME_PERIOD)", path: path + ".dimensions")
        }
        let all = s.dataSetDimensions + s.seriesDimensions + s.observationDimensions
        guard all.contains(where: { $0.id == "TIME_PERIOD" || $0.id == "TIME" }) else {
            throw FeedParseError(
                "the message has no time dimension: none of its dimensions (\(DisplayText.excerpt(all.map(\.id).joined(separator: ", "), limit: 200))) is TIME_PERIOD (or TIME), and plansync needs a period for every observation; request the data with its time dimension (SDMX REST: dimensionAtObservation=TIME_PERIOD or AllDimensions, no lastNObservations-only snapshot), or export it as CSV and read it with format = \"table-csv\" naming the period column in columns.period",
                path: path + ".dimensions")
        }
        return s
    }
}
