import PlanCore

/// The China National Bureau of Statistics `easyquery` response: `returncode`,
/// `returndata.datanodes[]` with `data` (`data`, `strdata`, `hasdata`) and `wds` (`zb`, `reg`,
/// `sj`), and `wdnodes` naming indicators and their units. `sj` is the period.
public enum NBSJSON {
    public static func parse(_ utf8: [UInt8], options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        let document: JSONValue
        do { document = try JSONParser.parse(utf8) } catch {
            throw FeedParseError("not valid JSON: \(error.message)", line: error.line, column: error.column, path: error.path)
        }
        guard case .object = document else { throw FeedParseError("expected an object with returncode and returndata", path: "") }
        guard case .number(let code)? = document["returncode"] else {
            throw FeedParseError("missing returncode: not an NBS easyquery response", path: "")
        }
        let returndata = document["returndata"]
        if case .string(let message)? = returndata {
            throw FeedParseError("NBS answered with an error (returncode \(code)): \(message)", path: "returndata")
        }
        guard code == "200" else {
            throw FeedParseError("NBS returncode \(code) (expected 200)", path: "returncode")
        }
        guard case .object? = returndata else { throw FeedParseError("returndata must be an object", path: "returndata") }
        var units: [String: String] = [:]
        if case .array(let wdnodes)? = returndata?["wdnodes"] {
            for wd in wdnodes where wd["wdcode"]?.stringValue == "zb" {
                if case .array(let nodes)? = wd["nodes"] {
                    for node in nodes {
                        if let c = node["code"]?.stringValue, let unit = node["unit"]?.stringValue, !unit.isEmpty { units[c] = unit }
                    }
                }
            }
        }
        guard case .array(let nodes)? = returndata?["datanodes"] else {
            throw FeedParseError("missing returndata.datanodes", path: "returndata")
        }
        var mapper = RecordMapper(options: options)
        for (i, node) in nodes.enumerated() {
            let path = "returndata.datanodes[\(i)]"
            guard case .array(let wds)? = node["wds"] else { throw FeedParseError("missing wds", path: path) }
            var dims: [String: String] = [:]
            for (j, wd) in wds.enumerated() {
                guard let wdcode = wd["wdcode"]?.stringValue, let valuecode = wd["valuecode"]?.stringValue else {
                    throw FeedParseError("each wds entry needs wdcode and valuecode", path: path + ".wds[\(j)]")
                }
                dims[wdcode] = valuecode
            }
            guard let sj = dims.removeValue(forKey: "sj") else { throw FeedParseError("no sj (period) in wds", path: path + ".wds") }
            guard let period = ForeignPeriod.nbs(sj) else {
                throw FeedParseError("invalid period '\(DisplayText.excerpt(sj))' (allowed: 2023, 202309, 2023A–2023D)", path: path + ".wds")
            }
            guard case .object? = node["data"] else { throw FeedParseError("missing data", path: path) }
            let data = node["data"]!
            if case .bool(false)? = data["hasdata"] {
                mapper.addMissing()
                continue
            }
            var value: Figure?
            if let text = data["strdata"]?.stringValue, !text.isEmpty {
                switch ForeignValue.parse(text, thousands: true) {
                case .missing:
                    mapper.addMissing()
                    continue
                case .invalid: throw FeedParseError("strdata '\(DisplayText.excerpt(text))' is not a number", path: path + ".data.strdata")
                case .number(let f): value = f
                }
            } else if case .number(let n)? = data["data"] {
                value = Figure(n)
            }
            guard let value else { throw FeedParseError("no value in data or strdata", path: path + ".data") }
            try mapper.add(dimensions: dims, period: period, value: value, unit: dims["zb"].flatMap { units[$0] }, location: path)
        }
        return mapper.result()
    }
}
