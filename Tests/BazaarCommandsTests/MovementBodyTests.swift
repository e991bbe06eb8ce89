import BazaarCommands
import BazaarDomain
import Foundation
import Testing

/// `MovementBody` and the strict decoding every body and command shares: a field Bazaar does not know, a fraction,
/// a number out of range, a null, invalid UTF-8 are each refused with a `DomainError.invalid` naming the field.
struct MovementBodyTests {
    /// Decodes `text` as an HTTP body of one movement (`POST /update-stock/...`).
    func body(_ text: String) throws -> MovementBody {
        do {
            return try JSONDecoder().decode(MovementBody.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw DomainError.decoding(error)
        }
    }

    /// A batch of movements, as `POST /v1/movements` sends them: store and product in each item.
    struct Batch: Decodable {
        var movements: [MovementBody]
    }

    func refusal(_ action: () throws -> some Any) -> DomainError? {
        do {
            _ = try action()
            return nil
        } catch let error as DomainError {
            return error
        } catch {
            Issue.record("not a DomainError: \(error)")
            return nil
        }
    }

    func field(of error: DomainError?) -> String? {
        if case .invalid(let field, _)? = error { return field }
        return nil
    }

    func message(of error: DomainError?) -> String? {
        if case .invalid(_, let message)? = error { return message }
        return nil
    }

    @Test func aDeltaAndACountBecomeTheirCommands() throws {
        let sale = try body(#"{"delta": -2, "reason": "sale", "reference": "till 4"}"#).command(storeID: "S1", productID: "P1")
        #expect(sale.change == .delta(-2) && sale.reason == .sale && sale.reference == "till 4" && sale.storeID == "S1")
        let count = try body(#"{"quantity": 7, "reason": "count", "expected_version": 3}"#).command(storeID: "S1", productID: "P1")
        #expect(count.change == .quantity(7) && count.expectedVersion == 3)
    }

    @Test func nullIsAnAbsentOptionalField() throws {
        let command = try body(#"{"delta": 1, "reference": null, "reason": null, "occurred_at": null, "expected_version": null}"#)
            .command(storeID: "S1", productID: "P1")
        #expect(command.reference == nil && command.expectedVersion == nil && command.occurredAtMillis == nil)
        // A null change is no change: neither delta nor quantity was sent.
        #expect(field(of: refusal { try body(#"{"delta": null}"#).command(storeID: "S1", productID: "P1") }) == "delta")
    }

    @Test(arguments: [
        (#"{"delta": 1, "colour": "red"}"#, "colour", "is not a known field"),
        (#"{"delta": 1, "store_id": "S1"}"#, "store_id", "is not a known field"),  // only in a batch item
        (#"{"delta": 1.5}"#, "delta", "must be a whole number (got 1.5)"),
        (#"{"delta": 1e30}"#, "delta", "is out of range"),
        (#"{"delta": 99999999999999999999}"#, "delta", "is out of range"),
        (#"{"delta": -9223372036854775809}"#, "delta", "is out of range"),
        (#"{"delta": "3"}"#, "delta", "must be an integer"),
        (#"{"delta": true}"#, "delta", "must be an integer"),
        (#"{"quantity": 1, "expected_version": 0.5}"#, "expected_version", "must be a whole number (got 0.5)"),
        (#"{"delta": 1, "reason": 7}"#, "reason", "must be a string"),
        (#"{"delta": 1, "reference": ["a"]}"#, "reference", "must be a string"),
    ])
    func aBodyIsRefusedNamingTheField(_ text: String, _ expectedField: String, _ words: String) {
        let error = refusal { try body(text) }
        #expect(field(of: error) == expectedField, "\(text): \(String(describing: error))")
        #expect(message(of: error)?.hasPrefix(words) == true, "\(text): \(String(describing: error))")
    }

    @Test func theLargestAndSmallestIntegersAreAccepted() throws {
        #expect(try body(#"{"delta": 9223372036854775807}"#).delta == .max)
        #expect(try body(#"{"delta": -9223372036854775808}"#).delta == .min)
    }

    @Test(arguments: [
        (#"{"delta": 1, "quantity": 2}"#, "delta"),
        (#"{"reason": "sale"}"#, "delta"),
        (#"{"delta": 1, "reason": "theft"}"#, "reason"),
        (#"{"delta": 1, "occurred_at": "yesterday"}"#, "occurred_at"),
        (#"{"delta": 1, "occurred_at": "1999-12-31T23:59:59Z"}"#, "occurred_at"),
        (#"{"delta": 1, "occurred_at": "2999-01-01T00:00:00Z"}"#, "occurred_at"),
    ])
    func aBodyThatDecodesCanStillBeRefusedAsACommand(_ text: String, _ expectedField: String) throws {
        let movement = try body(text)
        #expect(field(of: refusal { try movement.command(storeID: "S1", productID: "P1") }) == expectedField, "\(text)")
    }

    @Test func theOldestAcceptedTimeIsTheFirstOf2000() throws {
        let command = try body(#"{"delta": 1, "occurred_at": "2000-01-01T00:00:00Z"}"#).command(storeID: "S1", productID: "P1")
        #expect(command.occurredAtMillis == MovementBody.occurredAtEarliestMillis)
    }

    @Test func aBatchItemNamesItsPlaceInTheBatch() throws {
        let batch = try JSONDecoder().decode(Batch.self, from: Data(#"{"movements": [{"store_id": "S1", "product_id": "P1", "delta": 1}, {"store_id": "S1", "product_id": "P1", "delta": 1, "reason": "theft"}]}"#.utf8))
        #expect(batch.movements.map(\.storeID) == ["S1", "S1"])
        let error = refusal { try batch.movements[1].command(storeID: "S1", productID: "P1") }
        #expect(field(of: error) == "movements[1].reason", "\(String(describing: error))")
        // An unknown field in an item is named with its place too.
        let unknown = refusal {
            do {
                return try JSONDecoder().decode(Batch.self, from: Data(#"{"movements": [{"delta": 1}, {"delta": 1, "colour": "red"}]}"#.utf8))
            } catch let error as DecodingError { throw DomainError.decoding(error) }
        }
        #expect(field(of: unknown) == "movements[1].colour", "\(String(describing: unknown))")
    }

    @Test func invalidUTF8IsRefusedAsABody() {
        var bytes = Array(#"{"delta": 1, "reference": "x"}"#.utf8)
        bytes[bytes.count - 3] = 0xFF
        let error = refusal {
            do { return try JSONDecoder().decode(MovementBody.self, from: Data(bytes)) } catch let error as DecodingError { throw DomainError.decoding(error) }
        }
        #expect(field(of: error) == "body", "\(String(describing: error))")
    }

    @Test func aCommandMessageWithInvalidUTF8IsRefusedNotGuessed() {
        var bytes = Array(#"{"id": "c1", "store_id": "S1", "product_id": "P1", "delta": 1, "reference": "x"}"#.utf8)
        bytes[bytes.count - 3] = 0xFF
        #expect(field(of: refusal { try CommandMessage.decode(bytes) }) == "body")
    }

    @Test func fieldPathsReadAsAClientWritesThem() {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int?
            init(stringValue: String) { self.stringValue = stringValue }
            init(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
        }
        #expect(fieldPath([]) == "body")
        #expect(fieldPath([], "delta") == "delta")
        #expect(fieldPath([Key(stringValue: "movements"), Key(intValue: 3)], "delta") == "movements[3].delta")
    }
}
