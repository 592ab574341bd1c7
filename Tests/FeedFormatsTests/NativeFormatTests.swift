import Foundation
import Testing
@testable import FeedFormats
@testable import PlanCore

private let header = "indicator,period,measure,value,unit,cumulative,base_year,note\n"

private func parseCSV(_ text: String, indicators: Set<String>? = nil, charset: Charset = .utf8) throws -> ParsedFeed {
    try FeedParser.parse(Array(text.utf8), format: .csv, options: ParseOptions(feed: "f", indicators: indicators, charset: charset))
}

private func parseJSON(_ text: String, indicators: Set<String>? = nil) throws -> ParsedFeed {
    try FeedParser.parse(Array(text.utf8), format: .json, options: ParseOptions(feed: "f", indicators: indicators))
}

@Suite struct CSVReaderTests {
    @Test func readsQuotedFieldsEmbeddedCommasNewlinesAndCRLF() {
        var r2 = CSVReader(Array("a,\"b,1\",\"say \"\"hi\"\"\"\r\n\r\nx,\"multi\nline\",z\n".utf8))
        let first = r2.next(), second = r2.next(), third = r2.next()
        #expect(first == CSVRecord(fields: ["a", "b,1", "say \"hi\""], line: 1))
        #expect(second == CSVRecord(fields: ["x", "multi\nline", "z"], line: 3))
        #expect(third == nil && r2.error == nil)
    }

    @Test func reportsAnUnterminatedQuoteWithItsLine() {
        var reader = CSVReader(Array("a,b\nc,\"open\nmore".utf8))
        _ = reader.next()
        #expect(reader.next() == nil)
        #expect(reader.error?.line == 2)
        #expect(reader.error?.column == 2)
    }
}

@Suite struct NativeCSVTests {
    @Test func readsTheDesignExample() throws {
        let feed = try parseCSV(
            header + """
                gdp,2022,level,5515,亿元,,,
                gdp,2022,growth,3.0,%,,,
                water_per_gdp,2022,change_vs_base,-13.4,%,,2020,比2020年下降13.4%
                retail_sales,2023-06,growth,2.1,%,true,,1-6月累计
                """)
        #expect(feed.observations.count == 4)
        #expect(
            feed.observations[0]
                == Observation(
                    indicator: "gdp", period: .year(2022), measure: .level,
                    value: Figure("5515")!, unit: "亿元", feed: "f"))
        #expect(feed.observations[2].baseYear == 2020)
        #expect(feed.observations[2].note == "比2020年下降13.4%")
        #expect(feed.observations[3].cumulative)
        #expect(feed.observations[3].period == .month(2023, 6))
    }

    @Test func acceptsABOMReorderedColumnsAndOnlyRequiredOnes() throws {
        let feed = try parseCSV("\u{FEFF}value,measure,period,indicator\r\n3.0,growth,2022,gdp\r\n")
        #expect(feed.observations.first?.value == Figure("3.0"))
    }

    @Test func decodesGB18030Bodies() throws {
        let text = header + "gdp,2022,level,5515,亿元,,,地区生产总值5515亿元\n"
        let gbk = try #require(text.data(using: String.Encoding(rawValue: 0x8000_0632)))
        #expect(Array(gbk) != Array(text.utf8))
        let feed = try FeedParser.parse(Array(gbk), format: .csv, options: ParseOptions(feed: "f", charset: .gb18030))
        #expect(feed.observations.first?.unit == "亿元")
        #expect(feed.observations.first?.note == "地区生产总值5515亿元")
    }

    @Test func skipsAndCountsIndicatorsThePlanDoesNotHave() throws {
        let feed = try parseCSV(header + "gdp,2022,growth,3.0,,,,\nsteel_output,2022,level,12,,,,\n", indicators: ["gdp"])
        #expect(feed.observations.map(\.indicator) == ["gdp"])
        #expect(feed.skipped == 1)
    }

    @Test func anEmptyFeedWithAHeaderHasNoObservations() throws {
        let feed = try parseCSV(header)
        #expect(feed.observations.isEmpty && feed.skipped == 0)
    }

    @Test func identicalDuplicateRowsAreAcceptedOnce() throws {
        let feed = try parseCSV(header + "gdp,2022,growth,3.0,,,,\ngdp,2022,growth,3.00,,,,\n")
        #expect(feed.observations.count == 1)
    }

    @Test func unknownColumnsAreIgnoredWithAWarning() throws {
        let feed = try parseCSV("indicator,period,measure,value,source\ngdp,2022,growth,3.0,x\n")
        #expect(feed.observations.count == 1)
        #expect(feed.warnings.first?.contains("source") == true)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let body: String
        let line: Int?
        let column: Int?
        let message: String
        var testDescription: String { message }
    }

    static let bad: [Bad] = [
        Bad(body: "", line: 1, column: nil, message: "empty body"),
        Bad(body: "indicator,period,value\ngdp,2022,3.0\n", line: 1, column: nil, message: "missing column 'measure'"),
        Bad(body: header + "gdp,2024-13,growth,3.0,,,,\n", line: 2, column: 2, message: "invalid period '2024-13': month must be 01–12"),
        Bad(body: header + "gdp,2022,growht,3.0,,,,\n", line: 2, column: 3, message: "unknown measure 'growht' (allowed: level, growth, change_vs_base)"),
        Bad(body: header + "gdp,2022,growth,3.0%,,,,\n", line: 2, column: 4, message: "value '3.0%' is not a number"),
        Bad(body: header + "gdp,2022,growth,,,,,\n", line: 2, column: 4, message: "missing value"),
        Bad(body: header + ",2022,growth,1,,,,\n", line: 2, column: 1, message: "missing indicator code"),
        Bad(body: header + "gdp,2022,growth,1,,maybe,,\n", line: 2, column: 6, message: "cumulative 'maybe' must be true or false"),
        Bad(body: header + "w,2022,change_vs_base,-13.4,,,,\n", line: 2, column: 7, message: "needs a base_year"),
        Bad(body: header + "w,2022,growth,-13.4,,,2020,\n", line: 2, column: 7, message: "only meaningful with measure change_vs_base"),
        Bad(body: header + "gdp,2022,growth,3.0,,,,\ngdp,2022,growth,3.1,,,,\n", line: 3, column: 4, message: "given twice with different values"),
        Bad(body: header + "gdp,2022,growth,3.0,,,,,extra\n", line: 2, column: 9, message: "9 fields but the header has 8"),
        Bad(body: header + "gdp,2022,growth,\"3.0\n", line: 2, column: 4, message: "unterminated quoted field"),
        Bad(body: "<html><body>Service temporarily unavailable</body></html>\n", line: 1, column: nil, message: "missing column 'indicator'"),
    ]

    @Test(arguments: bad)
    func malformedBodiesFailWithPositionAndReason(_ c: Bad) {
        #expect {
            try parseCSV(c.body)
        } throws: { error in
            guard let e = error as? FeedParseError else { return false }
            return e.line == c.line && e.column == c.column && e.message.contains(c.message)
        }
    }

    @Test func invalidUTF8PointsToGB18030() {
        #expect {
            try FeedParser.parse(header.utf8 + [0xB5, 0xD8, 0x0A], format: .csv, options: ParseOptions(feed: "f"))
        } throws: { error in
            (error as? FeedParseError)?.message.contains("charset = \"gb18030\"") == true
        }
    }

    @Test func parsesTheSeedFeeds() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (name, count) in [("futian-2022-annex.csv", 11), ("futian-2022-report.csv", 18)] {
            let data = try Data(contentsOf: root.appendingPathComponent("Config/feeds/\(name)"))
            let feed = try FeedParser.parse(Array(data), format: .csv, options: ParseOptions(feed: name))
            #expect(feed.observations.count == count)
            #expect(feed.observations.allSatisfy { $0.note?.isEmpty == false })
        }
    }
}

@Suite struct NativeJSONTests {
    @Test func readsObservationsWithNumbersOrStrings() throws {
        let feed = try parseJSON(
            #"""
            {"observations": [
              {"indicator": "gdp", "period": "2022", "measure": "growth", "value": 3.0},
              {"indicator": "retail_sales", "period": "2023-06", "measure": "growth", "value": "2.1", "cumulative": true, "note": "1-6月累计"},
              {"indicator": "water_per_gdp", "period": 2022, "measure": "change_vs_base", "value": -13.4, "base_year": 2020}
            ]}
            """#)
        #expect(feed.observations.count == 3)
        #expect(feed.observations[0].value.description == "3.0")
        #expect(feed.observations[1].cumulative)
        #expect(feed.observations[2].baseYear == 2020)
    }

    @Test(arguments: [
        (#"{"observations": [{"indicator": "gdp", "period": "2024-13", "measure": "growth", "value": 1}]}"#, "observations[0].period", "month must be 01–12"),
        (#"{"observations": [{"indicator": "gdp", "period": "2024", "measure": "growth", "value": "n/a"}]}"#, "observations[0].value", "not a number"),
        (#"{"observations": [{"indicator": "gdp", "period": "2024", "measure": "growth"}]}"#, "observations[0].value", "missing value"),
        (#"{"observations": [{"indicator": "gdp", "period": "2024", "measure": "growth", "value": [1]}]}"#, "observations[0].value", "string or number"),
        (#"{"observations": [1]}"#, "observations[0]", "must be an object"),
        (#"{"observations": {}}"#, "observations", "must be an array"),
        (#"{"data": []}"#, "", "missing key \"observations\""),
        (#"[]"#, "", "expected an object"),
        (#"{"observations": [{"indicator": "gdp", "#, "observations[0]", "not valid JSON"),
    ])
    func malformedDocumentsFailWithTheirJSONPath(body: String, path: String, message: String) {
        #expect {
            try parseJSON(body)
        } throws: { error in
            guard let e = error as? FeedParseError else { return false }
            return e.path == path && e.message.contains(message)
        }
    }
}

@Suite struct PipelinedParserTests {
    /// A native CSV body of `rows` observations.
    func body(rows: Int) -> [UInt8] {
        var text = "indicator,period,measure,value\n"
        for i in 0..<rows {
            let j = i % 12_000
            text += "ind\(i / 12_000),\(1900 + j / 12)-\(String(format: "%02d", j % 12 + 1)),level,\(i).5\n"
        }
        return Array(text.utf8)
    }

    /// Nice values of this process's threads other than the calling one (from /proc).
    func otherThreadsNiceness() -> [Int] {
        let me = String(cString: realpath("/proc/thread-self", nil)).split(separator: "/").last.map(String.init) ?? ""
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { $0 != me }.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // Fields after "comm)": state is field 3; nice is field 19.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 16 ? Int(fields[16]) : nil
        }
    }

    @Test func deliversEveryObservationInOrderLikeTheDirectParser() throws {
        let data = body(rows: 20_000)
        let direct = try FeedParser.parse(data, format: .csv, options: ParseOptions(feed: "f"))
        var seen: [Observation] = []
        let piped = try PipelinedParser.parse(data, format: .csv, options: ParseOptions(feed: "f"), batchSize: 1000) {
            seen.append($0); return true
        }
        #expect(seen == direct.observations)
        #expect(piped.skipped == direct.skipped)
    }

    @Test func theParserThreadRunsAtTheRequestedNiceValue() throws {
        var niceDuringParse: Set<Int> = []
        var checked = false
        _ = try PipelinedParser.parse(
            body(rows: 50_000), format: .csv, options: ParseOptions(feed: "f"), batchSize: 256, depth: 2,
            niceness: 10
        ) { _ in
            if !checked { niceDuringParse = Set(otherThreadsNiceness()); checked = true }
            return true
        }
        #expect(niceDuringParse.contains(10), "no thread at nice 10 while parsing: \(niceDuringParse)")
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == 0, "the calling thread was reniced")
    }

    @Test func stoppingTheConsumerCancelsTheParser() {
        var count = 0
        #expect(throws: FeedParseError.cancelled) {
            _ = try PipelinedParser.parse(body(rows: 50_000), format: .csv, options: ParseOptions(feed: "f"), batchSize: 100) { _ in
                count += 1
                return count < 150
            }
        }
        #expect(count == 150)
    }
}
