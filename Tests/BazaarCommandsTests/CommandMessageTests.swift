import BazaarCommands
import BazaarDomain
import Testing

/// A Kafka command decodes on a fast path; it must give what the `Decodable` path (the HTTP rules) gives, for
/// good messages and bad ones alike.
struct CommandMessageTests {
    static let messages: [String] = [
        #"{"id": "c1", "store_id": "S1", "product_id": "P1", "delta": -2, "reason": "sale"}"#,
        #"{"id": "c2", "store_id": "S1", "product_id": "P1", "quantity": 7, "reason": "count", "expected_version": 3}"#,
        #"{"id": "c3", "store_id": "S1", "product_id": "P1", "delta": 4, "reference": null, "occurred_at": "2026-11-27T10:00:00Z"}"#,
        #"{"id": "c4", "store_id": "S1", "product_id": "P1", "delta": 1, "reference": "PO \"42\" caf\u00e9 😀"}"#,
        #"  {"product_id": "P1", "store_id": "S1", "id": "c5", "delta": 3}  "#,
        // Refused, for every kind of reason:
        #"{"id": "c6", "store_id": "S1", "product_id": "P1", "delta": 1.5}"#,
        #"{"id": "c7", "store_id": "S1", "product_id": "P1", "delta": "3"}"#,
        #"{"id": "c8", "store_id": "S1", "product_id": "P1", "delta": 1, "colour": "red"}"#,
        #"{"store_id": "S1", "product_id": "P1", "delta": 1}"#,
        #"{"id": 9, "store_id": "S1", "product_id": "P1", "delta": 1}"#,
        #"{"id": "c10", "product_id": "P1", "delta": 1}"#,
        #"{"id": "c11", "store_id": "S1", "product_id": "P1", "delta": 1, "reason": "theft"}"#,
        #"{"id": "c12", "store_id": "S1", "product_id": "P1", "delta": 1, "quantity": 2}"#,
        #"{"id": "c13", "store_id": "S1", "product_id": "P1", "delta": 0}"#,
        #"{"id": "c14", "store_id": "S1", "product_id": "P1", "delta": 99999999999999999999}"#,
        #"{"id": "c15", "store_id": "S1", "product_id": "P1", "delta": 1, "occurred_at": "yesterday"}"#,
        #"{"id": "c16", "store_id": "S1", "product_id": "P1", "delta": -1, "reason": "receipt"}"#,
        #"{"id": null, "store_id": "S1", "product_id": "P1", "delta": 1}"#,
        #"[1, 2]"#, "this is not JSON", "",
        // JSON no two readers agree on: refused by both paths, saying where.
        #"{"id": "c17", "store_id": "S1", "product_id": "P1", "delta": 5, "delta": -5}"#,
        #"{"id": "c18", "store_id": "S1", "product_id": "P1", "delta": 5,}"#,
        #"{"id": "c19", "store_id": "S1", "product_id": "P1", "delta": 0.99999999999999999}"#,
        #"{"id": "c20", "store_id": "S1", "product_id": "P1", "delta": 1e400}"#,
        #"{"id": "c21", "store_id": "S1", "product_id": "P1", "delta": 1, "expected_version": 9007199254740993}"#,
    ]

    @Test func aMessageTwoReadersWouldReadDifferentlyIsRefusedSayingWhere() {
        func refusal(_ text: String) -> DomainError? {
            do { _ = try CommandMessage.decode(Array(text.utf8)); return nil } catch { return error as? DomainError }
        }
        let twice = refusal(#"{"id": "c", "store_id": "S1", "product_id": "P1", "delta": 5, "delta": -5}"#)
        #expect(twice == .invalid(field: "delta", message: "appears twice in one object: send each field once"))
        guard case .invalid("delta", let message)? = refusal(#"{"id": "c", "store_id": "S1", "product_id": "P1", "delta": 0.99999999999999999}"#)
        else { Issue.record("the lossy number was taken"); return }
        #expect(message.contains("would be read as 1.0"))
        guard case .invalid("body", let comma)? = refusal(#"{"id": "c", "store_id": "S1", "product_id": "P1", "delta": 5,}"#)
        else { Issue.record("the trailing comma was taken"); return }
        #expect(comma.contains("not valid JSON"))
    }

    @Test(arguments: messages)
    func theFastPathAgreesWithTheDecodablePath(_ text: String) {
        let bytes = Array(text.utf8)
        let fast = Result { try CommandMessage.decode(bytes) }
        let reference = Result { try CommandMessage.decodeByCodable(bytes) }
        switch (fast, reference) {
        case (.success(let a), .success(let b)):
            #expect(a.id == b.id && a.command == b.command)
        case (.failure(let a), .failure(let b)):
            // The same error, field and words: the problem answered (HTTP) or recorded (Kafka) is rendered from it.
            #expect(a as? DomainError == b as? DomainError && a is DomainError, "\(a) vs \(b)")
        default:
            Issue.record("the paths disagree: \(fast) vs \(reference)")
        }
    }

    @Test func invalidUTF8IsDecodedTheReferenceWay() {
        var bytes = Array(#"{"id": "c1", "store_id": "S1", "product_id": "P1", "delta": 1, "reference": "x"}"#.utf8)
        bytes[bytes.count - 3] = 0xFF
        let fast = Result { try CommandMessage.decode(bytes) }
        let reference = Result { try CommandMessage.decodeByCodable(bytes) }
        #expect((try? fast.get()) == nil && (try? reference.get()) == nil)
    }
}
