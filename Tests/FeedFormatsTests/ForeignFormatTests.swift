import Foundation
import Testing
@testable import FeedFormats
@testable import PlanCore

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

func map(_ match: [String: String], _ indicator: String, _ measure: Measure, scale: String? = nil, cumulative: Bool? = nil) -> SeriesMap {
    SeriesMap(match: match, indicator: indicator, measure: measure, scale: scale.flatMap { Figure($0) }, cumulative: cumulative)
}

func parse(
    _ body: [UInt8], _ format: FeedFormat, maps: [SeriesMap], columns: TableColumns? = nil,
    charset: Charset = .utf8
) throws -> ParsedFeed {
    try FeedParser.parse(body, format: format, options: ParseOptions(feed: "f", charset: charset, maps: maps, columns: columns))
}

/// "indicator measure period value" for compact assertions.
func summary(_ feed: ParsedFeed) -> [String] {
    feed.observations.map { "\($0.indicator) \($0.measure) \($0.period)\($0.cumulative ? " ytd" : "") \($0.value)" }.sorted()
}

func expectError(
    _ body: String, _ format: FeedFormat, maps: [SeriesMap] = [map(["A": "1"], "gdp", .growth)],
    columns: TableColumns? = nil, line: Int? = nil, path: String? = nil, _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(sourceLocation: sourceLocation) {
        try parse(Array(body.utf8), format, maps: maps, columns: columns)
    } throws: { error in
        guard let e = error as? FeedParseError else { return false }
        return e.message.contains(message) && (line == nil || e.line == line) && (path == nil || e.path == path)
    }
}

@Suite struct SDMXCSVTests {
    let maps = [
        map(["REF_AREA": "CN", "INDICATOR": "GDP_YOY"], "gdp", .growth),
        map(["REF_AREA": "CN", "INDICATOR": "GDP_LVL"], "gdp", .level),
        map(["REF_AREA": "CN", "INDICATOR": "RETAIL_YTD"], "retail_sales", .growth, cumulative: true),
    ]

    @Test func readsVersion1WithEveryPeriodFormUnitMultAndMissingValues() throws {
        let feed = try parse(try fixture("sdmx-csv-1.0.csv"), .sdmxCSV, maps: maps)
        #expect(
            summary(feed) == [
                "gdp growth 2022 3.0", "gdp growth 2023 5.2", "gdp growth 2023-Q3 4.9", "gdp growth 2023-S1 5.5",
                "gdp growth 2023-W05 1.1", "gdp level 2022 121020", "retail_sales growth 2023-06 ytd 8.2",
                "retail_sales growth 2023-07 ytd 7.3",
            ])
        #expect(feed.skipped == 3)  // two missing values (empty, NaN) and the US series
    }

    @Test func readsVersion2WithSemicolonsLabelsAndDeletions() throws {
        let feed = try parse(try fixture("sdmx-csv-2.0-labels.csv"), .sdmxCSV, maps: maps)
        #expect(summary(feed) == ["gdp growth 2022 3.0", "gdp level 2022 121020"])
        #expect(feed.skipped == 2)  // the ACTION=D row and #N/A
    }

    @Test func aFeedWhoseEveryRecordIsUnmatchedWarns() throws {
        let feed = try parse(try fixture("sdmx-csv-1.0.csv"), .sdmxCSV, maps: [map(["REF_AREA": "440304"], "gdp", .growth)])
        #expect(feed.observations.isEmpty)
        #expect(feed.warnings.first?.contains("none of the 11 records matched") == true)
    }

    @Test func anEmptyFeedWithAHeaderIsEmpty() throws {
        let feed = try parse(Array("DATAFLOW,REF_AREA,TIME_PERIOD,OBS_VALUE\n".utf8), .sdmxCSV, maps: maps)
        #expect(feed.observations.isEmpty && feed.warnings.isEmpty)
    }

    @Test func malformedFilesSayWhere() {
        expectError("", .sdmxCSV, line: 1, "empty body")
        expectError("FREQ,TIME_PERIOD,OBS_VALUE\nA,2022,1\n", .sdmxCSV, line: 1, "first column must be DATAFLOW (1.0) or STRUCTURE (2.0)")
        expectError("DATAFLOW,REF_AREA,OBS_VALUE\nX,CN,1\n", .sdmxCSV, line: 1, "no TIME_PERIOD column")
        expectError("DATAFLOW,REF_AREA,TIME_PERIOD\nX,CN,2022\n", .sdmxCSV, line: 1, "no OBS_VALUE column")
        expectError("DATAFLOW,A,TIME_PERIOD,OBS_VALUE\nX,1,2022-13,1\n", .sdmxCSV, line: 2, "invalid TIME_PERIOD '2022-13'")
        expectError("DATAFLOW,A,TIME_PERIOD,OBS_VALUE\nX,1,2022,abc\n", .sdmxCSV, line: 2, "OBS_VALUE 'abc' is not a number")
        expectError("DATAFLOW,A,TIME_PERIOD,OBS_VALUE,UNIT_MULT\nX,1,2022,1,lots\n", .sdmxCSV, line: 2, "UNIT_MULT 'lots'")
        expectError("DATAFLOW,A,TIME_PERIOD,OBS_VALUE\nX,1,2022,\"1\n", .sdmxCSV, line: 2, "unterminated quoted field")
    }
}

@Suite struct SDMXJSONTests {
    let maps = [
        map(["REF_AREA": "CN", "INDICATOR": "GDP_YOY"], "gdp", .growth),
        map(["REF_AREA": "CN", "INDICATOR": "GDP_LVL"], "gdp", .level),
        map(["INDICATOR": "UNEMP"], "unemployment_rate", .level),
    ]

    @Test func readsVersion1SeriesWithDataSetDimensionsAndUnitMult() throws {
        let feed = try parse(try fixture("sdmx-json-1.0-series.json"), .sdmxJSON, maps: maps)
        #expect(summary(feed) == ["gdp growth 2022 3.0", "gdp growth 2023 5.2", "gdp level 2022 121020", "gdp level 2023 126060"])
        #expect(feed.skipped == 1)  // the null
    }

    @Test func readsVersion1FlatObservations() throws {
        let feed = try parse(try fixture("sdmx-json-1.0-flat.json"), .sdmxJSON, maps: maps)
        #expect(summary(feed) == ["gdp growth 2022 3.0", "gdp growth 2023 5.2"])
        #expect(feed.skipped == 2)  // the null and the US record
    }

    @Test func readsVersion2() throws {
        let feed = try parse(try fixture("sdmx-json-2.0.json"), .sdmxJSON, maps: maps)
        #expect(summary(feed) == ["gdp growth 2022 3.0", "unemployment_rate level 2022 5.6", "unemployment_rate level 2022-Q4 5.5"])
    }

    @Test func malformedMessagesGiveTheirJSONPath() throws {
        var text = String(decoding: try fixture("sdmx-json-1.0-series.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: #""1": ["126.06", 1]"#, with: #""1": ["n/a", 1]"#)
        expectError(text, .sdmxJSON, maps: maps, path: #"dataSets[0].series["0:1"].observations["1"][0]"#, "value 'n/a' is not a number")
        let bad = String(decoding: try fixture("sdmx-json-1.0-series.json"), as: UTF8.self)
            .replacingOccurrences(of: #""0:1": {"attributes""#, with: #""0:7": {"attributes""#)
        expectError(bad, .sdmxJSON, maps: maps, path: #"dataSets[0].series["0:7"]"#, "index '7' is out of range for INDICATOR")
        expectError(#"{"dataSets": []}"#, .sdmxJSON, path: "", "not an SDMX-JSON data message")
        expectError(#"{"structure": {"dimensions": {}}, "dataSets": []}"#, .sdmxJSON, path: "structure.dimensions", "no observation dimension")
        expectError(#"{"header": {}, "dataSets": [{"series": {"#, .sdmxJSON, "not valid JSON")
        expectError(
            #"{"data": {"structures": [{"dimensions": {"observation": [{"id": "TIME_PERIOD", "values": [{"id": "2022"}]}]}}], "dataSets": [{"structure": 3}]}}"#,
            .sdmxJSON, path: "data.dataSets[0].structure", "structure 3 does not exist")
    }
}

@Suite struct NBSJSONTests {
    let maps = [
        map(["zb": "A020101", "reg": "440300"], "gdp", .level),
        map(["zb": "A020102", "reg": "440300"], "gdp", .growth),
        map(["zb": "A070101"], "retail_sales", .growth, cumulative: true),
        map(["zb": "A0801"], "unemployment_rate", .level),
    ]

    @Test func readsDataNodesPeriodsAndUnits() throws {
        let feed = try parse(try fixture("nbs-easyquery.json"), .nbsJSON, maps: maps)
        #expect(
            summary(feed) == [
                "gdp growth 2022 3.3", "gdp level 2022 32387.68", "retail_sales growth 2023-Q2 ytd 5.8",
                "unemployment_rate level 2023-09 2.5",
            ])
        #expect(feed.observations.first { $0.measure == .level && $0.indicator == "gdp" }?.unit == "亿元")
        #expect(feed.skipped == 1)  // hasdata false is missing, never zero
        #expect(!feed.observations.contains { $0.period == .year(2021) })
    }

    @Test func anErrorStringInReturndataIsAnError() {
        expectError(#"{"returncode":501,"returndata":"参数错误"}"#, .nbsJSON, path: "returndata", "NBS answered with an error (returncode 501): 参数错误")
        expectError(#"{"returncode":500,"returndata":{"datanodes":[]}}"#, .nbsJSON, path: "returncode", "returncode 500")
        expectError(#"{"returndata":{}}"#, .nbsJSON, path: "", "missing returncode")
        expectError(
            #"{"returncode":200,"returndata":{"datanodes":[{"data":{"hasdata":true,"strdata":"1"},"wds":[{"wdcode":"zb","valuecode":"A"},{"wdcode":"sj","valuecode":"2023E"}]}]}}"#,
            .nbsJSON, path: "returndata.datanodes[0].wds", "invalid period '2023E'")
        expectError(
            #"{"returncode":200,"returndata":{"datanodes":[{"data":{"hasdata":true,"strdata":"x"},"wds":[{"wdcode":"sj","valuecode":"2023"}]}]}}"#,
            .nbsJSON, path: "returndata.datanodes[0].data.strdata", "strdata 'x' is not a number")
    }

    @Test func anEmptyResponseIsAnEmptyFeed() throws {
        let feed = try parse(Array(#"{"returncode":200,"returndata":{"datanodes":[],"wdnodes":[]}}"#.utf8), .nbsJSON, maps: maps)
        #expect(feed.observations.isEmpty && feed.skipped == 0)
    }
}

@Suite struct TableCSVTests {
    let columns = TableColumns(period: "时间", value: "数值")
    let maps = [
        map(["地区": "福田区", "指标": "地区生产总值"], "gdp", .level),
        map(["地区": "福田区", "指标": "地区生产总值增速"], "gdp", .growth),
        map(["地区": "福田区", "指标": "社会消费品零售总额增速"], "retail_sales", .growth),
        map(["地区": "福田区", "指标": "进出口总额增速"], "foreign_trade", .growth),
    ]

    @Test func readsABureauTableWithBOMQuotesCRLFAndChinesePeriods() throws {
        let feed = try parse(try fixture("bureau-table.csv"), .tableCSV, maps: maps, columns: columns)
        #expect(
            summary(feed) == [
                "foreign_trade growth 2023-Q2 -4.0", "gdp growth 2022 3.0", "gdp level 2022 5515.00",
                "retail_sales growth 2023-06 1.5", "retail_sales growth 2023-06 ytd 2.1",
            ])
        #expect(feed.skipped == 2)  // 罗湖区, and the "—" value
    }

    @Test func readsTheSameTableInGB18030() throws {
        let text = String(decoding: try fixture("bureau-table.csv"), as: UTF8.self)
        let gbk = try #require(text.data(using: String.Encoding(rawValue: 0x8000_0632)))
        let feed = try parse(Array(gbk), .tableCSV, maps: maps, columns: columns, charset: .gb18030)
        #expect(feed.observations.count == 5)
    }

    @Test(arguments: [
        ("2023年", "2023", false), ("2023年6月", "2023-06", false), ("2023年1-6月", "2023-06", true), ("2023年1—6月", "2023-06", true),
        ("2023年1-12月", "2023", false), ("2023年第二季度", "2023-Q2", false), ("2023年3季度", "2023-Q3", false), ("2023-Q1", "2023-Q1", false),
    ])
    func understandsBureauPeriods(text: String, period: String, cumulative: Bool) throws {
        let parsed = try #require(ForeignPeriod.bureau(text))
        #expect(parsed.period.description == period)
        #expect(parsed.cumulative == cumulative || parsed.period.isFullYear)
    }

    @Test func malformedTablesSayWhere() {
        expectError("地区,时间,数值\n福田区,2023年13月,1\n", .tableCSV, columns: columns, line: 2, "invalid period '2023年13月'")
        expectError("地区,时间,值\n福田区,2023年,1\n", .tableCSV, columns: columns, line: 1, "no column '数值' (columns.value)")
        expectError("地区,时间,数值\n福田区,2023年,abc\n", .tableCSV, columns: columns, line: 2, "value 'abc' is not a number")
        expectError("地区,时间,数值\n", .tableCSV, columns: nil, "needs columns")
        expectError("地区,时间,数值\n福田区,2023年,1,2\n", .tableCSV, columns: columns, line: 2, "4 fields but the header has 3")
    }

    @Test func twoRecordsMappingToOneFigureWithDifferentValuesIsAnError() {
        expectError(
            "地区,指标,时间,数值\n福田区,地区生产总值增速,2022年,3.0\n福田区,地区生产总值增速,2022年,3.1\n", .tableCSV,
            maps: maps, columns: columns, "line 3 maps to gdp 2022 growth, which an earlier record already gave with a different value")
    }

    @Test func aScaleConvertsUnits() throws {
        let feed = try parse(
            Array("地区,指标,时间,数值\n福田区,地区生产总值,2022年,55150000\n".utf8), .tableCSV,
            maps: [map(["指标": "地区生产总值"], "gdp", .level, scale: "0.0001")], columns: columns)
        #expect(feed.observations.first?.value == Figure("5515"))
    }
}

@Suite struct StreamingTests {
    @Test func aLargeCSVFileStreamsInFlatMemory() throws {
        // 12 MiB of SDMX-CSV on disk, read through a FileSource in 1 MiB chunks: memory must not
        // grow by anything near the file size.
        let path = NSTemporaryDirectory() + "plansync-big-\(UUID().uuidString).csv"
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.write(Data("DATAFLOW,REF_AREA,INDICATOR,TIME_PERIOD,OBS_VALUE\n".utf8))
        let block = Data((0..<10_000).map { "X,CN,OTHER,20\(10 + $0 % 20),\($0).5\n" }.joined().utf8)
        var written = 0
        while written < 12 << 20 {
            handle.write(block)
            written += block.count
        }
        handle.write(Data("X,CN,GDP_YOY,2022,3.0\n".utf8))
        try handle.close()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let before = peakResidentBytes()
        let reader = CSVReader(source: try #require(FileSource(path: path)))
        let feed = try SDMXCSV.parse(reader, options: ParseOptions(feed: "big", maps: [map(["INDICATOR": "GDP_YOY"], "gdp", .growth)]))
        #expect(feed.observations.count == 1)
        #expect(feed.skipped > 250_000)
        // The peak is the test process's, which the suites running alongside share (the
        // incremental-judging mirrors, the daemons' clients): the margin is wide. Reading the
        // file whole (12 MiB) and holding its 260,000 records as rows would take far more.
        #expect(peakResidentBytes() - before < 32 << 20)
    }
}

func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}
