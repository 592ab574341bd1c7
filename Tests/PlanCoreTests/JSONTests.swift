import Testing
@testable import PlanCore

@Suite struct JSONTests {
    @Test func keepsNumbersKeyOrderAndUnicode() throws {
        let value = try JSONParser.parse(Array(#"{"b":3.0,"a":[1,-2.50e1,null,true],"名":"福田\n\u00e9\ud83d\ude00"}"#.utf8))
        #expect(value.text == #"{"b":3.0,"a":[1,-2.50e1,null,true],"名":"福田\né😀"}"#)
    }

    @Test(arguments: [
        (#"{"a": [1, 2}"#, "a"),
        (#"{"a": [1, x]}"#, "a[1]"),
        (#"{"a": {"b c": tru}}"#, #"a["b c"]"#),
        (#"{"a": "x"#, "a"),
        (#"[01]"#, "[0]"),
        (#"{"a":1} x"#, ""),
    ])
    func reportsWhereTheDocumentBreaks(text: String, path: String) {
        #expect {
            try JSONParser.parse(Array(text.utf8))
        } throws: { error in
            (error as? JSONParser.Error)?.path == path
        }
    }

    @Test func limitsNestingDepth() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(Array(deep.utf8)) }
    }

    @Test func escapesControlCharactersWhenWriting() {
        #expect(JSONValue.string("a\"b\\c\u{1}").text == #""a\"b\\c\u0001""#)
    }

    @Test(arguments: [
        ("福田区 GDP 增长 3.0%", #""福田区 GDP 增长 3.0%""#),  // nothing to escape: written whole
        ("line\u{2028}sep\u{2029}", #""line\u2028sep\u2029""#),  // JavaScript line separators
        ("—dash “quotes” €", #""—dash “quotes” €""#),  // E2-led characters kept as they are
        ("tab\there\r\n", #""tab\there\r\n""#),
    ])
    func writesStringsExactly(text: String, json: String) throws {
        #expect(JSONValue.string(text).text == json)
        #expect(try JSONParser.parse(Array(json.utf8)) == .string(text))
    }
}
