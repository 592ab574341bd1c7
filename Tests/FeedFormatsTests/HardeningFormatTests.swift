import Foundation
import Testing
@testable import FeedFormats
@testable import PlanCore

/// What real agency files and hostile bodies broke (issue 14), at the parser.
@Suite struct HardeningFormatTests {
    let gdp = [map(["REF_AREA": "CN", "INDICATOR": "GDP_YOY"], "gdp", .growth)]

    @Test func aNULInsideATextFieldIsRefusedWithItsLineAndColumn() throws {
        let csv = "indicator,period,measure,value,unit,cumulative,base_year,note\ngdp,2022,growth,3.0,%,,,a\u{0}b\n"
        let error = #expect(throws: FeedParseError.self) { try parse(Array(csv.utf8), .csv, maps: []) }
        #expect(error?.line == 2 && error?.column == 8)
        #expect(error?.message.contains("NUL") == true)
        let table = "地区,时间,数值\n福\u{0}田,2022年,3.0\n"
        let tableError = #expect(throws: FeedParseError.self) {
            try parse(
                Array(table.utf8), .tableCSV, maps: [map(["地区": "福田"], "gdp", .growth)],
                columns: TableColumns(period: "时间", value: "数值"))
        }
        #expect(tableError?.line == 2 && tableError?.column == 1)
        let json = #"{"observations": [{"indicator": "gdp", "period": "2022", "measure": "growth", "value": 3.0, "note": "a\u0000b"}]}"#
        let jsonError = #expect(throws: FeedParseError.self) { try parse(Array(json.utf8), .json, maps: []) }
        #expect(jsonError?.description.contains("NUL") == true)
        #expect(jsonError?.line == 1 && jsonError?.column == 103, "\(String(describing: jsonError))")
    }

    @Test func aDuplicateJSONKeyIsRefusedWithItsPath() throws {
        let json = #"{"observations": [{"indicator": "gdp", "period": "2022", "measure": "growth", "value": 3.0, "value": 9.0}]}"#
        let error = #expect(throws: FeedParseError.self) { try parse(Array(json.utf8), .json, maps: []) }
        #expect(error?.path == "observations[0].value", "\(String(describing: error))")
        #expect(error?.message.contains("duplicate key \"value\"") == true)
        // Large objects (a set of keys past 16 members) and nested ones alike.
        let many = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(Array("{\(many), \"k7\": 1}".utf8)) }
        #expect(throws: Never.self) { try JSONParser.parse(Array("[{\(many)}, {\(many)}, {\"a\": {\"a\": 1}}]".utf8)) }
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(Array(#"{"a": {"b": 1, "b": 2}}"#.utf8)) }
    }

    @Test func repeatedWarningsAreCountedNotRepeated() throws {
        let header = "indicator,period,measure,value," + (0..<100_000).map { "x\($0)" }.joined(separator: ",")
        let feed = try parse(Array((header + "\n").utf8), .csv, maps: [])
        #expect(feed.warnings.count == 1)
        #expect(feed.warnings.total == 100_000)
        #expect(feed.warnings.first?.hasSuffix("(and 99999 more like it)") == true, "\(feed.warnings.first ?? "")")
        let rows = (0..<5000).map {
            #"{"indicator": "gdp", "period": "\#(1900 + $0 / 12)-\#(String(format: "%02d", $0 % 12 + 1))", "measure": "level", "value": \#($0), "extra": 1, "more": 2}"#
        }
        let json = #"{"observations": ["# + rows.joined(separator: ",") + "]}"
        let parsed = try parse(Array(json.utf8), .json, maps: [])
        #expect(parsed.warnings.count == 2)
        #expect(parsed.warnings.total == 10_000)
        // Many kinds: at most `maxKinds` lines and a count of the rest.
        var warnings = FeedWarnings()
        for i in 0..<100 { warnings.add("w\(i)", kind: "k\(i)") }
        #expect(warnings.lines.count == FeedWarnings.maxKinds + 1)
        #expect(warnings.lines.last == "80 more warnings of other kinds")
    }

    /// ECB's own sample of an update message: a dataSet with `"action": "Delete"` lists the
    /// observations withdrawn, some as empty arrays.
    @Test func anSDMXJSONDeleteDataSetIsHonoured() throws {
        func message(_ dataSets: String, version2: Bool = false) -> [UInt8] {
            let structure = """
                {"dimensions": {"series": [{"id": "REF_AREA", "values": [{"id": "CN"}]}, {"id": "INDICATOR", "values": [{"id": "GDP_YOY"}]}],
                                "observation": [{"id": "TIME_PERIOD", "values": [{"id": "2021"}, {"id": "2022"}]}]}}
                """
            return Array(
                (version2
                    ? #"{"meta": {}, "data": {"structures": [\#(structure)], "dataSets": [\#(dataSets)]}}"#
                    : #"{"header": {}, "structure": \#(structure), "dataSets": [\#(dataSets)]}"#).utf8)
        }
        for version2 in [false, true] {
            let deleteOnly = try parse(
                message(#"{"action": "Delete", "series": {"0:0": {"observations": {"0": [], "1": []}}}}"#, version2: version2),
                .sdmxJSON, maps: gdp)
            #expect(deleteOnly.observations.isEmpty)
            #expect(deleteOnly.skipped == 2)
            let both = try parse(
                message(
                    #"{"action": "Delete", "series": {"0:0": {"observations": {"0": [8.4]}}}}, {"action": "Replace", "series": {"0:0": {"observations": {"1": [3.0]}}}}"#,
                    version2: version2),
                .sdmxJSON, maps: gdp)
            #expect(summary(both) == ["gdp growth 2022 3.0"])
            #expect(both.skipped == 1)
            for action in ["Append", "Information", "Merge", "replace"] {
                let read = try parse(
                    message(#"{"action": "\#(action)", "observations": {}, "series": {"0:0": {"observations": {"0": [8.4]}}}}"#, version2: version2),
                    .sdmxJSON, maps: gdp)
                #expect(summary(read) == ["gdp growth 2021 8.4"], "\(action)")
            }
            let unknown = #expect(throws: FeedParseError.self) {
                try parse(message(#"{"action": "Destroy", "series": {}}"#, version2: version2), .sdmxJSON, maps: gdp)
            }
            #expect(unknown?.message.contains("unknown dataSet action") == true)
            #expect(unknown?.path?.hasSuffix("dataSets[0].action") == true)
        }
    }

    @Test func sdmxCSV2DeclaredSubValueSeparatorsAndMultiValuedAttributes() throws {
        let csv = """
            STRUCTURE[;],STRUCTURE_ID,ACTION,REF_AREA,INDICATOR,TIME_PERIOD,OBS_VALUE,CONF_STATUS[;],COMMENT[|]
            dataflow,OECD:DF(1.0),I,CN,GDP_YOY,2022,3.0,[F;C],[a|b]
            dataflow,OECD:DF(1.0),I,CN,GDP_YOY,2023,5.2,F,

            """
        let feed = try parse(Array(csv.utf8), .sdmxCSV, maps: gdp)
        #expect(summary(feed) == ["gdp growth 2022 3.0", "gdp growth 2023 5.2"])
        // A map can match the multi-valued attribute's values.
        let byStatus = try parse(Array(csv.utf8), .sdmxCSV, maps: [map(["CONF_STATUS": "F;C"], "gdp", .growth)])
        #expect(summary(byStatus) == ["gdp growth 2022 3.0"])
        // Several values where one is needed is a clear error.
        expectError(
            "STRUCTURE[;],STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_VALUE\ndataflow,X,I,CN,2022,[1;2]\n", .sdmxCSV,
            maps: gdp, line: 2, "OBS_VALUE holds several values")
    }

    @Test func aMessageWithoutATimeDimensionSaysSo() throws {
        let json = """
            {"header": {}, "structure": {"dimensions": {"series": [{"id": "REF_AREA", "values": [{"id": "CN"}]}],
             "observation": [{"id": "INDICATOR", "values": [{"id": "GDP_YOY"}]}]}},
             "dataSets": [{"series": {"0": {"observations": {"0": [3.0]}}}}]}
            """
        let error = #expect(throws: FeedParseError.self) { try parse(Array(json.utf8), .sdmxJSON, maps: gdp) }
        #expect(error?.message.contains("has no time dimension") == true)
        #expect(error?.message.contains("REF_AREA, INDICATOR") == true)
        #expect(error?.message.contains("columns.period") == true)
        expectError("DATAFLOW,REF_AREA,INDICATOR,OBS_VALUE\nX,CN,GDP_YOY,3.0\n", .sdmxCSV, maps: gdp, "has no time dimension")
    }

    @Test func scalingIsExact() throws {
        let csv = "DATAFLOW,REF_AREA,INDICATOR,TIME_PERIOD,OBS_VALUE\nX,CN,GDP_YOY,2022,88.1742083868035\nX,CN,GDP_YOY,2023,5515.00\n"
        let percent = try parse(Array(csv.utf8), .sdmxCSV, maps: [map(["REF_AREA": "CN"], "gdp", .level, scale: "0.01")])
        #expect(summary(percent) == ["gdp level 2022 0.881742083868035", "gdp level 2023 55.1500"])
        let odd = try parse(Array(csv.utf8), .sdmxCSV, maps: [map(["REF_AREA": "CN"], "gdp", .level, scale: "1.5")])
        #expect(summary(odd) == ["gdp level 2022 132.26131258020525", "gdp level 2023 8272.500"])
    }
}
