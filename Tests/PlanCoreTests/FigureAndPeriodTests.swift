import Foundation
import Testing
@testable import PlanCore
import Support

@Suite struct FigureTests {
    @Test(arguments: [
        ("3.0", "3.0", 1), ("-11.6", "-11.6", 1), ("5515", "5515", 0), ("+2.0", "2.0", 1),
        ("0.0001", "0.0001", 4), ("1.5E3", "1500", 0), ("2.5e-1", "0.25", 2), ("-0.0", "0.0", 1),
    ])
    func parsesPublishedNumbersKeepingTheirPrecision(text: String, printed: String, scale: Int) throws {
        let figure = try #require(Figure(text))
        #expect(figure.description == printed)
        #expect(figure.scale == scale)
    }

    @Test(arguments: ["", "abc", "3.0%", "1,000", "NaN", ".", "1.", "--1", "1e", "0x10", " 3", "3 "])
    func rejectsAnythingThatIsNotAPlainNumber(text: String) {
        #expect(Figure(text) == nil)
    }

    @Test func comparesExactlyInDecimal() throws {
        // 0.1 + 0.2 style binary errors must not exist: -3.5 equals -3.50 exactly.
        #expect(try #require(Figure("-3.5")) == #require(Figure("-3.50")))
        #expect(try #require(Figure("0.3")) == Figure(Decimal(string: "0.1")! + Decimal(string: "0.2")!, scale: 1))
        #expect(try #require(Figure("-3.49")) > #require(Figure("-3.5")))
    }

    @Test func roundsHalfAwayFromZero() {
        #expect(Figure(Decimal(string: "2.25")!, scale: 1).description == "2.3")
        #expect(Figure(Decimal(string: "-2.25")!, scale: 1).description == "-2.3")
    }

    /// Figures computed in judging (differences, derived percentages, pro-rated thresholds)
    /// print the same through the quick path as through Decimal's own formatting.
    @Test func computedFiguresPrintAsDecimalFormattingPrintsThem() throws {
        var random = SplitMix(seed: 7)
        var quick = 0
        for _ in 0..<5_000 {
            let a = try #require(Figure(random.numberText()))
            let b = try #require(Figure(random.numberText()))
            let results = [
                a - b, b - a, -a, a.clampedAtZero, Figure(a.value, scale: random.next(7)),
                Figure(a.value * 10, scale: a.scale), Figure(Decimal(random.next(1_000_000)), scale: random.next(4)),
            ]
            for figure in results {
                #expect(figure.description == figure.decimalText, "\(figure.value) scale \(figure.scale)")
                if figure.quickText != nil { quick += 1 }
            }
        }
        // The quick path is the common one.
        #expect(quick > 25_000)
        #expect(Figure(Decimal(0), scale: 2).description == "0.00")
        #expect(Figure(Decimal(string: "-0.004")!, scale: 2).description == "0.00")
        #expect(Figure(Decimal(string: "1500")!, scale: 1).description == "1500.0")
        #expect(Figure(Decimal(string: "0.05")!, scale: 3).description == "0.050")
    }

    /// Parsing from bytes (a database column) and from text agree on every input.
    @Test func parsesFromBytesAsFromText() {
        var random = SplitMix(seed: 11)
        var inputs = ["", "-", "+", ".", "1.", "-0.0", "+2.0", "007", "1.5E3", "2.5e-1", "1e999", "1,0", "３", "12345678901234567890.5"]
        for _ in 0..<5_000 { inputs.append(random.numberText()) }
        for text in inputs {
            var bytes = text
            let fromBytes = bytes.withUTF8 { Figure(utf8: $0) }
            let fromText = Figure(text)
            #expect(fromBytes?.description == fromText?.description, "\(text)")
            #expect(fromBytes?.scale == fromText?.scale, "\(text)")
        }
    }
}

/// Deterministic numbers for the tests above (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }

    /// A published-looking number: sign, 0–7 integer digits, 0–4 decimals.
    mutating func numberText() -> String {
        let sign = ["", "-", ""][next(3)]
        let integer = String(next(10_000_000) / [1, 10, 1000, 100_000][next(4)])
        let decimals = next(5)
        let fraction = decimals == 0 ? "" : "." + String((0..<decimals).map { _ in Character(String(next(10))) })
        return sign + integer + fraction
    }
}

@Suite struct PeriodTests {
    @Test(arguments: [
        ("2023", Period.year(2023)), ("2023-Q2", .quarter(2023, 2)), ("2023-06", .month(2023, 6)),
        ("2023-12", .month(2023, 12)), ("2023-S1", .half(2023, 1)), ("2023-W05", .week(2023, 5)),
        ("2024-02-29", .day(2024, 2, 29)),
    ])
    func parsesNativeForms(text: String, period: Period) throws {
        #expect(try Period(parsing: text) == period)
        #expect(period.description == text)
    }

    @Test(arguments: [
        ("2024-13", "month must be 01–12"), ("2024-00", "month must be 01–12"), ("2023-Q5", "quarter must be Q1–Q4"),
        ("23", "4-digit year"), ("2023-6", "2-digit month"), ("2023-06-01-02", "too many"), ("2023-02-29", "day must be 01–28"),
        ("2023-W54", "week must be W01–W53"), ("", "4-digit year"),
        ("1800", "outside"), ("2023-S3", "S1 or S2"), ("２０２３", "4-digit year"),
    ])
    func rejectsInvalidPeriodsWithAReason(text: String, reason: String) {
        #expect {
            try Period(parsing: text)
        } throws: { error in
            let message = (error as? PeriodError)?.description ?? ""
            return message.contains(reason) && message.contains("'\(text)'") && message.contains("2023-Q2")
        }
    }

    /// Periods read from bytes (a database column) agree with parsing their text.
    @Test(arguments: [
        "2023", "2023-06", "2023-12", "2023-13", "2023-00", "2023-Q2", "2023-S1", "2023-W05", "2024-02-29", "1800", "20x3",
        "2023-6", "2023/06", "", "２０２３", "2999", "3000-01",
    ])
    func readsFromBytesAsFromText(text: String) {
        var bytes = text
        let fromBytes = bytes.withUTF8 { Period(utf8: $0) }
        #expect(fromBytes == (try? Period(parsing: text)))
    }

    @Test func measuresAreReadFromBytes() {
        for text in Measure.allCases.map(\.rawValue) + ["Level", "growt", "growth ", "", "change_vs_bas", "change_vs_basf"] {
            var bytes = text
            #expect(bytes.withUTF8 { Measure(utf8: $0) } == Measure(rawValue: text), "\(text)")
        }
    }

    @Test func ordersByEndMonthThenGranularity() {
        let sorted = [Period.month(2023, 6), .year(2022), .quarter(2023, 2), .year(2023), .month(2023, 1)].sorted()
        #expect(sorted == [.year(2022), .month(2023, 1), .quarter(2023, 2), .month(2023, 6), .year(2023)])
        #expect(Period.quarter(2023, 3).endMonth == 9)
        #expect(Period.month(2023, 6).shifted(years: -1) == .month(2022, 6))
    }
}

@Suite struct UnitsTests {
    @Test(arguments: [("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("6h", 21600.0), ("1d", 86400.0), ("1h30m", 5400.0)])
    func parsesDurations(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["", "6", "6x", "h", "-5m", "5 m m"])
    func rejectsBadDurations(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test(arguments: [("65536", 65536), ("64MiB", 64 << 20), ("1GiB", 1 << 30), ("10MB", 10_000_000), ("512KiB", 512 << 10)])
    func parsesSizes(text: String, bytes: Int) {
        #expect(ByteSizeText.bytes(text) == bytes)
    }

    @Test(arguments: ["", "MiB", "64XB", "-1", "99999999999999999999GiB"])
    func rejectsBadSizes(text: String) {
        #expect(ByteSizeText.bytes(text) == nil)
    }

    @Test(arguments: [
        ("https://user:secret@stats.example.org/feed.csv", "https://***@stats.example.org/feed.csv"),
        ("https://stats.example.org/api?token=abc&year=2023", "https://stats.example.org/api?token=***&year=2023"),
        ("https://stats.example.org/a@b/feed.csv", "https://stats.example.org/a@b/feed.csv"),
        ("file:///etc/plansync/feeds/a.csv", "file:///etc/plansync/feeds/a.csv"),
    ])
    func redactsCredentialsFromURLs(url: String, shown: String) {
        #expect(Redaction.url(url) == shown)
    }
}

@Suite struct TextHelperTests {
    @Test(arguments: [
        ("fetch failed: https://user:pw@example.org/a.csv returned 500", "fetch failed: https://***@example.org/a.csv returned 500"),
        ("two: http://a:b@x.org/ and ftp://c@y.org/z", "two: http://***@x.org/ and ftp://***@y.org/z"),
        ("no userinfo: https://example.org/a@b", "no userinfo: https://example.org/a@b"),
        ("mail me at someone@example.org", "mail me at someone@example.org"),
        ("://user@host without a scheme", "://user@host without a scheme"),
        ("spaces end it: https://user name@host", "spaces end it: https://user name@host"),
        ("unicode 统计局 https://用户:密码@stats.example.org/数据", "unicode 统计局 https://***@stats.example.org/数据"),
        ("", ""),
    ])
    func redactsCredentialsInFreeText(text: String, shown: String) {
        #expect(Redaction.text(text) == shown)
    }

    @Test(
        arguments: [
            (1.23456, 3, "1.235"), (0.0, 1, "0.0"), (12.05, 1, "12.1"), (-0.04, 1, "0.0"), (-2.5, 0, "-3"),
            (1_700_000_000.4, 0, "1700000000"), (0.0005, 3, "0.001"), (99.999, 2, "100.00"), (7, 0, "7"),
        ] as [(Double, Int, String)])
    func formatsFixedDecimals(value: Double, digits: Int, text: String) {
        #expect(DecimalText.fixed(value, digits: digits) == text)
    }

    @Test func fixedDecimalsAgreeWithPrintfAwayFromTies() {
        for i in stride(from: -10_000_000, through: 10_000_000, by: 9973) {
            let value = Double(i) / 997
            for digits in 0...3 {
                #expect(
                    DecimalText.fixed(value, digits: digits)
                        == String(format: "%.\(digits)f", value).replacingOccurrences(of: "-0.000", with: "0.000").replacingOccurrences(
                            of: "-0.00", with: "0.00"
                        ).replacingOccurrences(of: "-0.0", with: "0.0").replacingOccurrences(of: "^-0$", with: "0", options: .regularExpression))
            }
        }
    }
}
