import Configuration
import FeedFormats
import Foundation
import PlanCore

/// One parser the fuzzer drives: every feed format (in each charset worth fuzzing), the
/// plan file and the daemon configuration. Made from `FeedFormat.allCases`, so a new format
/// is fuzzed (and counted by `make fuzz`) without editing this file.
enum FuzzTarget: CustomStringConvertible {
    case feed(FeedFormat, Charset)
    case plan
    case config

    static let all: [FuzzTarget] =
        FeedFormat.allCases.flatMap { format in format.fuzzedCharsets.map { FuzzTarget.feed(format, $0) } }
        + [.plan, .config]

    var description: String {
        switch self {
        case .feed(let format, let charset): charset == .utf8 ? format.rawValue : "\(format.rawValue) (\(charset.rawValue))"
        case .plan: "plan TOML"
        case .config: "config TOML"
        }
    }
}

/// Feeds one input to one parser; the first byte chooses which (`FuzzTarget.all`, in order).
/// Errors are expected; crashes, hangs and sanitizer reports are bugs.
enum FuzzHarness {
    static var parsers: Int { FuzzTarget.all.count }
    static let maps = [
        SeriesMap(match: ["REF_AREA": "CN"], indicator: "gdp", measure: .growth),
        SeriesMap(match: ["zb": "A020102"], indicator: "gdp", measure: .level, scale: Figure("0.0001")),
        SeriesMap(match: ["地区": "福田区"], indicator: "retail_sales", measure: .growth, cumulative: true),
    ]

    static func run(_ bytes: [UInt8]) {
        guard let selector = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        var options = ParseOptions(
            feed: "fuzz", indicators: ["gdp", "retail_sales"], maps: maps,
            columns: TableColumns(period: "时间", value: "数值"))
        switch FuzzTarget.all[Int(selector) % parsers] {
        case .feed(let format, let charset):
            options.charset = charset
            _ = try? FeedParser.parse(body, format: format, options: options)
        case .plan:
            _ = try? PlanFile.parse(String(decoding: body, as: UTF8.self), file: "fuzz.toml")
        case .config:
            _ = try? DaemonConfig.parse(
                String(decoding: body, as: UTF8.self), path: "/nonexistent/fuzz/plansync.toml",
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
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

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
            if CommandLine.arguments.dropFirst().first == "--list" {
                // One line per parser, in selector order (`make fuzz` counts them).
                for (i, target) in FuzzTarget.all.enumerated() { print("\(i) \(target)") }
                return
            }
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
