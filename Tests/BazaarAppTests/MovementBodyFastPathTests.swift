@testable import BazaarHTTP
import BazaarCommands
import BazaarDomain
import NIOCore
import Testing

/// The body of `POST /update-stock/...` decodes on a fast path (issue 15); it must give what the `Decodable` path
/// gives, for good bodies and bad ones alike (the same command, or the same problem).
struct MovementBodyFastPathTests {
    static let bodies: [String] = [
        #"{"delta": 1, "reason": "receipt", "reference": "wrk"}"#,
        #"{"quantity": 7, "reason": "count", "expected_version": 3}"#,
        #"{"delta": -2, "reason": "sale", "reference": null, "occurred_at": "2026-11-27T10:00:00Z"}"#,
        #"{"delta": 1, "reference": "PO \"42\" caf\u00e9 😀"}"#,
        #"  {"delta": 3}  "#,
        // Refused, for every kind of reason:
        #"{"delta": 1.5}"#, #"{"delta": "3"}"#, #"{"delta": 1, "colour": "red"}"#, #"{"delta": 1, "store_id": "S1"}"#,
        #"{"delta": 1, "reason": "theft"}"#, #"{"delta": 1, "quantity": 2}"#, #"{"delta": 0}"#, #"{}"#,
        #"{"delta": 99999999999999999999}"#, #"{"delta": 1, "occurred_at": "yesterday"}"#,
        #"{"delta": -1, "reason": "receipt"}"#, #"{"delta": 1, "expected_version": -1}"#, #"{"delta": true}"#,
        #"{"delta": 1e3}"#, #"{"delta": 1, "reference": 5}"#, #"[1, 2]"#, "this is not JSON", #"{"delta": 1"#,
    ]

    @Test(arguments: bodies)
    func theFastPathAgreesWithTheDecodablePath(_ text: String) {
        let buffer = ByteBuffer(string: text)
        let fast = Result { try JSONBody.decodeMovement(buffer).command(storeID: "S1", productID: "P1") }
        let reference = Result { try JSONBody.decode(MovementBody.self, from: buffer).command(storeID: "S1", productID: "P1") }
        switch (fast, reference) {
        case (.success(let a), .success(let b)):
            #expect(a == b)
        case (.failure(let a), .failure(let b)):
            #expect(Problem.json(for: a) == Problem.json(for: b))
        default:
            Issue.record("fast \(fast), reference \(reference)")
        }
    }
}
