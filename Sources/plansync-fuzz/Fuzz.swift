import Configuration
import FeedFormats
import Foundation
import PlanCore

/// Feeds one input to one parser; the first byte chooses which: native csv and json,
/// table-csv (UTF-8 and GB18030), sdmx-csv, sdmx-json, nbs-json, plan TOML, config TOML.
/// Errors are expected; crashes, hangs and sanitizer reports are bugs.
enum FuzzHarness {
    static let parsers = 9
    static let maps = [
        SeriesMap(match: ["REF_AREA": "CN"], indicator: "gdp", measure: .growth),
        SeriesMap(match: ["zb": "A020102"], indicator: "gdp", measure: .level, scale: Figure("0.0001")),
        SeriesMap(match: ["地区": "福田区"], indicator: "retail_sales", measure: .growth, cumulative: true),
    ]

    static func run(_ bytes: [UInt8]) {
        guard let selector = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        var options = ParseOptions(feed: "fuzz", indicators: ["gdp", "retail_sales"], maps: maps,
                                   columns: TableColumns(period: "时间", value: "数值"))
        switch Int(selector) % parsers {
        case 0: _ = try? FeedParser.parse(body, format: .csv, options: options)
        case 1: _ = try? FeedParser.parse(body, format: .json, options: options)
        case 2: _ = try? FeedParser.parse(body, format: .tableCSV, options: options)
        case 3:
            options.charset = .gb18030
            _ = try? FeedParser.parse(body, format: .tableCSV, options: options)
        case 4: _ = try? FeedParser.parse(body, format: .sdmxCSV, options: options)
        case 5: _ = try? FeedParser.parse(body, format: .sdmxJSON, options: options)
        case 6: _ = try? FeedParser.parse(body, format: .nbsJSON, options: options)
        case 7: _ = try? PlanFile.parse(String(decoding: body, as: UTF8.self), file: "fuzz.toml")
        default:
            _ = try? DaemonConfig.parse(String(decoding: body, as: UTF8.self), path: "/nonexistent/fuzz/plansync.toml",
                                        environment: ["STATE_DIRECTORY": "/tmp"])
        }
    }
}

#if FUZZING
/// libFuzzer's entry point (built with `-sanitize=fuzzer,address -DFUZZING`, see `make fuzz`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; hand it to libFuzzer's driver.
@_cdecl("plansync_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Without the fuzzer: replays files (a corpus, or a crash a fuzzer found) through every parser.
@main
struct FuzzReplay {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("plansync-fuzz: cannot read \(path)\n".utf8))
                exit(2)
            }
            FuzzHarness.run(Array(data))  // as the fuzzer saw it (first byte = parser)
            for selector in 0..<FuzzHarness.parsers { FuzzHarness.run([UInt8(selector)] + Array(data)) }
            count += 1
        }
        print("replayed \(count) file(s) through \(FuzzHarness.parsers) parsers")
    }
}
#endif
