import BazaarDomain
import Foundation
import Testing

/// The event reader against Foundation's parser: the same values for valid JSON, nil for invalid JSON.
struct JSONReaderTests {
    @Test(arguments: [
        #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        #"  [ -0, 12, -9223372036854775808, 9223372036854775807, 1.5, -2e3, 1E-2 ]  "#,
        #"{"escaped": "q\"b\\s\/n\n\r\t\b\f", "unicode": "caf\u00e9 \ud83d\ude00 été 😀"}"#,
        #"{"empty": {}, "none": [], "s": ""}"#,
        #""just a string""#,
    ])
    func agreesWithFoundation(_ text: String) throws {
        let ours = try #require(JSONNode.parse(text))
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        #expect(Self.matches(ours, theirs), "\(ours) vs \(theirs)")
    }

    @Test(arguments: [
        "", "{", #"{"a" 1}"#, #"{"a": 1,}"#, "[1,]", "01", "1.", "-", "1e", "tru", #""\x""#, #""\ud800""#, #""\udc00x""#,
        "\"a\u{01}b\"", #"{"a": 1} x"#, String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(JSONNode.parse(text) == nil)
    }

    @Test func integersStayExact() {
        #expect(JSONNode.parse("9007199254740993") == .int(9_007_199_254_740_993))
        #expect(JSONNode.parse(#"{"v": 12}"#)?["v"]?.int == 12)
    }

    static func matches(_ node: JSONNode, _ value: Any) -> Bool {
        switch node {
        case .null: return value is NSNull
        case .bool(let b): return (value as? Bool) == b
        case .int(let i): return (value as? NSNumber)?.int64Value == i
        case .double(let d): return (value as? NSNumber)?.doubleValue == d
        case .string(let s): return value as? String == s
        case .array(let a):
            guard let other = value as? [Any], other.count == a.count else { return false }
            return zip(a, other).allSatisfy { matches($0, $1) }
        case .object(let o):
            guard let other = value as? [String: Any], other.count == o.count else { return false }
            return o.allSatisfy { key, node in other[key].map { matches(node, $0) } ?? false }
        }
    }
}

/// Issue 11: everything Bazaar writes as JSON goes through one escaping rule, identifiers included, so a value that
/// slipped past validation (a `store_id` read from Kafka, say) cannot break out of its string.
@Test func answersAndEventsEscapeEveryStringTheyCarry() {
    let hostile = #"S1","forged":"x"#
    let movement = Movement(sequence: 1, movementID: "m", storeID: hostile, productID: "P\"1", delta: 1, quantityBefore: 0,
                            quantityAfter: 1, version: 1, reason: .receipt, reference: nil, actor: "a", atMillis: 0, recordedAtMillis: 0)
    for text in [movement.auditJSON, movement.writeAnswerJSON, movement.cloudEventJSON,
                 StockLevel(quantity: 1, version: 1, updatedAtMillis: 0).readAnswerJSON(storeID: hostile, productID: "P")] {
        let node = JSONNode.parse(text)
        #expect(node != nil, "not JSON: \(text)")
        #expect(node?["forged"] == nil && node?["data"]?["forged"] == nil, "a value broke out of its string: \(text)")
    }
}
