@testable import Configuration
import Foundation
import Testing

/// The TOML parser that reads config and plan files (replacing TOMLKit/toml++).
@Suite struct TOMLParserTests {
    func parse(_ text: String) throws(ConfigError) -> TOMLTable { try TOMLParser.parse(text, file: "t.toml") }

    func failure(_ text: String) -> ConfigError? {
        do { _ = try parse(text); return nil } catch { return error }
    }

    @Test func valuesOfEveryKind() throws {
        let doc = try parse(
            """
            int = +1_000
            neg = -17
            hex = 0xDEAD_beef
            oct = 0o755
            bin = 0b1101
            float = 6.5e-1
            whole = 3.0
            inf = -inf
            nan = nan
            yes = true
            no = false
            basic = "tab\\there \\"q\\" \\u00e9\\U0001F600 \\\\"
            literal = 'C:\\path\\n'
            multi = \"\"\"
            one
            two \\
                three\"\"\"
            lit = '''
            raw \\n ''quoted'''
            date = 2023-06-30
            dt = 2023-06-30 08:00:00+08:00
            time = 07:32:00.25
            array = [ 1, "two", [3], { four = 4 }, ]
            """)
        #expect(doc["int"].map { if case .int(1000) = $0 { true } else { false } } == true)
        #expect(doc["neg"].map { if case .int(-17) = $0 { true } else { false } } == true)
        #expect(doc["hex"].map { if case .int(0xDEADBEEF) = $0 { true } else { false } } == true)
        #expect(doc["oct"].map { if case .int(0o755) = $0 { true } else { false } } == true)
        #expect(doc["bin"].map { if case .int(13) = $0 { true } else { false } } == true)
        #expect(doc["float"].map { if case .double(0.65) = $0 { true } else { false } } == true)
        // Plain decimals are kept as written.
        #expect(doc["whole"].map { if case .decimal("3.0") = $0 { true } else { false } } == true)
        #expect(doc["inf"].map { if case .double(-.infinity) = $0 { true } else { false } } == true)
        #expect(doc["nan"].map { if case .double(let d) = $0 { d.isNaN } else { false } } == true)
        #expect(doc["yes"].map { if case .bool(true) = $0 { true } else { false } } == true)
        #expect(doc["no"].map { if case .bool(false) = $0 { true } else { false } } == true)
        #expect(string(doc["basic"]) == "tab\there \"q\" é😀 \\")
        #expect(string(doc["literal"]) == "C:\\path\\n")
        #expect(string(doc["multi"]) == "one\ntwo three")
        #expect(string(doc["lit"]) == "raw \\n ''quoted")
        #expect(doc["date"]?.typeName == "a date")
        #expect(doc["dt"]?.typeName == "a date-time")
        #expect(doc["time"]?.typeName == "a time")
        guard case .array(let items)? = doc["array"] else { Issue.record("array"); return }
        #expect(items.count == 4)
        #expect(items.map(\.typeName) == ["an integer", "a string", "an array", "a table"])
    }

    func string(_ node: TOMLNode?) -> String? {
        if case .string(let s)? = node { return s }
        return nil
    }

    @Test func tablesArraysOfTablesAndDottedKeys() throws {
        let doc = try parse(
            """
            top.level = 1
            [a.b]
            c = 1
            [a]
            d.e = 2
            [[feed]]
            id = "x"
            [feed.columns]
            period = "时间"
            [[feed.map]]
            indicator = "gdp"
            [[feed]]
            id = "y"
            ["quoted key".'lit']
            v = { w.x = 1, y = [1, 2] }
            """)
        guard case .table(let top)? = doc["top"], case .table(let a)? = doc["a"], case .table(let ab)? = a["b"],
            case .array(let feeds)? = doc["feed"], case .table(let q)? = doc["quoted key"], case .table(let lit)? = q["lit"]
        else { Issue.record("shape: \(doc)"); return }
        #expect(top["level"]?.typeName == "an integer")
        #expect(ab["c"]?.typeName == "an integer")
        #expect(a["d"]?.typeName == "a table")
        #expect(feeds.count == 2)
        guard case .table(let first) = feeds[0], case .table(let columns)? = first["columns"], case .array(let maps)? = first["map"]
        else { Issue.record("feed[0]: \(feeds[0])"); return }
        #expect(string(columns["period"]) == "时间")
        #expect(maps.count == 1)
        #expect(lit["v"]?.typeName == "a table")
    }

    /// Each of these is invalid TOML; the error names the line, the column and what is wrong.
    @Test(
        arguments: [
            ("a = 1\na = 2\n", 2, 1, "duplicate key 'a'"),
            ("[t]\nx = 1\n[t]\n", 3, 1, "table [t] is defined more than once"),
            ("[fruit]\napple.color = 1\n[fruit.apple]\n", 3, 1, "table [fruit.apple] is defined more than once"),
            ("a = {b = 1}\na.c = 2\n", 2, 1, "'a' is already defined"),
            ("a = [1]\n[[a]]\n", 2, 1, "already defined as something else"),
            ("x = [}]\n", 1, 6, "expected a value, found '}'"),
            ("x = [1,\n  2\n  3]\n", 3, 3, "expected ',' or ']' in the array"),
            ("x = { a = 1, }\n", 1, 14, "trailing ','"),
            ("x = { a = 1\n}\n", 1, 12, "must close on the line it starts"),
            ("x = 1 y = 2\n", 1, 7, "expected the end of the line"),
            ("x = 00\n", 1, 5, "'00' is not a valid number"),
            ("interval = 1h\n", 1, 12, "'1h' is not a valid number, date or time (text needs quotes: \"1h\")"),
            ("x = 9223372036854775808\n", 1, 5, "out of the range of an integer"),
            ("x = 2023-02-29\n", 1, 5, "not a valid number, date or time"),
            ("x = \"a\\qb\"\n", 1, 8, "invalid escape '\\q'"),
            ("x = \"a\\u0000\"\n", 1, 13, "NUL character"),
            ("x = \"计划\n", 1, 8, "unterminated string"),
            ("x = 'a\u{7}'\n", 1, 7, "control character 0x7"),
            ("x = 1\ry = 2\n", 1, 6, "carriage return"),
            ("地区 = 1\n", 1, 1, "must be quoted"),
            ("name = \"福田\" x\n", 1, 13, "found 'x'"),
            ("x = yes\n", 1, 5, "strings need quotes"),
            ("[a.]\n", 1, 4, "expected a key, found ']'"),
            ("x = \"\"\"\nunclosed\n", 3, 1, "unterminated string"),
        ] as [(String, Int, Int, String)])
    func invalidDocuments(_ text: String, line: Int, column: Int, message: String) {
        guard let error = failure(text) else { Issue.record("accepted: \(text)"); return }
        #expect(error.line == line && error.column == column, "\(error)")
        #expect(error.message.hasPrefix("TOML syntax error: "), "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func nestingIsBounded() {
        let deep = "x = " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        #expect(failure(deep)?.message.contains("nested more than") == true)
        let fine = "x = " + String(repeating: "[", count: 50) + String(repeating: "]", count: 50) + "\n"
        #expect(failure(fine) == nil)
    }

    @Test func windowsLineEndingsAndByteOrderMark() throws {
        let doc = try parse("\u{FEFF}a = \"\"\"\r\nx\r\ny\"\"\"\r\n[t]\r\nb = 1 # c\r\n")
        #expect(string(doc["a"]) == "x\ny")
        #expect(doc["t"]?.typeName == "a table")
    }

    /// 480 documents with what Python's `tomllib` (the reference TOML 1.0 parser of CPython
    /// 3.11) made of them: hand-written edge cases and random mutations of TOML documents,
    /// 279 valid and 201 invalid. The parser must agree on every one.
    @Test func agreesWithTomllib() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/toml-cases.json").path
        let data = try #require(FileManager.default.contents(atPath: path))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(cases.count == 480)
        for c in cases {
            let text = try #require(c["toml"] as? String)
            let result: Any
            do { result = canonical(.table(try parse(text))) } catch { result = NSNull() }
            let expected = c["expect"] ?? NSNull()
            #expect(NSDictionary(dictionary: ["v": result]).isEqual(to: ["v": expected]), "\(text.debugDescription)")
        }
    }

    /// The form the fixture uses: tables as objects, values as [kind, value].
    func canonical(_ node: TOMLNode) -> Any {
        switch node {
        case .table(let t): return Dictionary(uniqueKeysWithValues: zip(t.keys, t.values.map(canonical)))
        case .array(let a): return a.map(canonical)
        case .string(let s): return ["s", s]
        case .int(let i): return ["i", i]
        case .double(let d): return ["f", d.isNaN ? "nan" : "\(d)"]
        case .decimal(let text): return ["f", "\(Double(text) ?? .nan)"]
        case .bool(let b): return ["b", b]
        case .other(let kind): return ["o", kind]
        }
    }

    /// toml++ (used before) asserted, aborting the process, on `[}]`: a stray bracket in a
    /// config file killed `plansync check` and the daemon on reload instead of an error.
    @Test func aStrayBraceInAnArrayIsAnErrorInTheConfiguration() {
        do {
            _ = try DaemonConfig.parse(
                "database = \"m.sqlite\"\nplans = [}]\n", path: "/nonexistent/plansync.toml",
                environment: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("plansync.toml:2:10: TOML syntax error: expected a value, found '}'"), "\(error)")
        }
    }
}
