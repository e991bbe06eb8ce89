import BazaarCommands
import BazaarDomain
import Foundation
import Testing

/// `StrictJSON` takes every text RFC 8259 allows (that Foundation also reads the same way) and refuses what it does
/// not, or what two readers would read differently, naming where.
struct StrictJSONTests {
    static let valid: [String] = [
        "{}", "[]", "0", "-0", "1.5", "1.0", "1e2", "100e-2", "1e0", "5E+0", "2e-0", "9007199254740992.0", "2.50E+1", "-12.5e-1", "0.95", "123456789.123456789", "true", "null",
        #"{"a": [1, 2, {"b": null}], "c": "x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00", "d": {"a": 1}}"#,
        " \t\r\n{\"café 😀\": \"€\"}\n", #"{"a": 1, "A": 2}"#, String(repeating: "[", count: 63) + String(repeating: "]", count: 63),
        "{\"\(String(repeating: "é", count: 64))\": 1}",
    ]

    @Test(arguments: valid)
    func whatRFC8259AllowsIsTaken(_ text: String) throws {
        try StrictJSON.validate(text: Array(text.utf8), field: "body")
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as Any? != nil)
    }

    static let refused: [(text: String, field: String, words: String)] = [
        (#"{"delta": 5,}"#, "body", "not valid JSON"),
        ("[1, 2,]", "body", "not valid JSON"),
        (#"{"a": 1} {"a": 2}"#, "body", "after the JSON value"),
        ("{'a': 1}", "body", "double quotes"),
        (#"{"a": 01}"#, "body", "leading zero"),
        (#"{"a": .5}"#, "body", "expected a value"),
        (#"{"a": NaN}"#, "body", "expected a value"),
        (#"{"a": 1} // note"#, "body", "after the JSON value"),
        ("{\"a\": \"tab\there\"}", "body", "control character"),
        (#"{"a": "\ud800"}"#, "body", "lone surrogate"),
        (#"{"a": "\x41"}"#, "body", "unknown escape"),
        (#"{"delta": 5, "delta": -5}"#, "delta", "appears twice"),
        (#"{"lines": [{"product_id": "P1", "quantity": 1, "quantity": 2}]}"#, "lines[0].quantity", "appears twice"),
        (#"{"a\u0062": 1, "ab": 2}"#, "ab", "appears twice"),
        (#"{"quantity": 0.99999999999999999}"#, "quantity", "would be read as 1.0"),
        (#"{"quantity": 1e-400}"#, "quantity", "would be read as 0.0"),
        (#"{"quantity": 1e400}"#, "quantity", "out of range"),
        (String(repeating: "[", count: 65) + String(repeating: "]", count: 65), "body[0][0]", "deeper than 64"),
        (#"{"v": 9007199254740993}"#, "v", "within ±9007199254740992"),
        (#"{"v": 9007199254740994.0}"#, "v", "2^53"),
        (#"{"v": 1e23}"#, "v", "2^53"),
        (#"{"v": -12345678901234567890123}"#, "v", "out of range"),
        ("{\"a\(String(repeating: "\u{301}", count: 64))\": 1}", "body", "longer than 64 characters"),
    ]

    /// A member name of combining marks took time quadratic in its length (its hash normalizes it): a long one is
    /// refused before it is hashed, on the fast reader too. Timed only against a bound far above what a linear pass
    /// takes, so that a loaded machine cannot fail it.
    @Test func aLongMemberNameIsRefusedBeforeItIsCompared() throws {
        let marks = String(repeating: "\u{301}", count: 40_000) + String(repeating: "\u{316}", count: 40_000)
        let text = "{\"a\(marks)\": 1, \"b\": 2}"
        let start = ContinuousClock.now
        #expect(throws: DomainError.self) { try StrictJSON.validate(text: Array(text.utf8), field: "body") }
        #expect(JSONNode.parse(text) == nil)
        #expect(ContinuousClock.now - start < .seconds(2), "quadratic: 160 KB of marks took seconds of CPU")
    }

    @Test func refusalsQuoteTheirInputShortly() {
        let huge = "{\"v\": 1e" + String(repeating: "1", count: 100_000) + "}"
        do {
            try StrictJSON.validate(text: Array(huge.utf8), field: "body")
            Issue.record("taken")
        } catch .invalid(_, let message) {
            #expect(message.utf8.count < 300, "\(message.utf8.count) bytes")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test(arguments: refused.indices)
    func whatItDoesNotIsRefusedSayingWhere(_ index: Int) {
        let (text, field, words) = Self.refused[index]
        do {
            try StrictJSON.validate(text: Array(text.utf8), field: "body")
            Issue.record("taken: \(text)")
        } catch .invalid(let got, let message) {
            #expect(field == got || (words.contains("deeper") && got.hasPrefix("body[")), "\(text): \(got)")
            #expect(message.contains(words), "\(text): \(message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func invalidUTF8IsNamed() {
        var bytes = Array(#"{"a": "x"}"#.utf8)
        bytes[7] = 0xFF
        #expect(throws: DomainError.invalid(field: "body", message: "is not valid UTF-8: JSON text must be UTF-8")) {
            try StrictJSON.validate(text: bytes, field: "body")
        }
    }
}
