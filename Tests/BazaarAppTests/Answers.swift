import Foundation

// Typed answers for tests: decode a reply once (`reply.decode(StockLevelAnswer.self)`) and read fields with their
// types, instead of casting through `[String: Any]`. A field of the wrong type fails the decode, with the path in
// the error; the exact key sets of a contract are still checked on `reply.json.keys` where the contract fixes them
// (these structs ignore fields they do not name, and read null and absent alike).

/// `/get-stock` and `/update-stock`: a level (DESIGN.md).
struct StockLevelAnswer: Decodable, Sendable {
    var storeID: String
    var productID: String
    var quantity: Int64
    var version: Int64
    /// Only in a write's answer.
    var movementID: String?
    /// Null at version 0.
    var updatedAt: String?
    /// Only in a read's answer.
    var reserved: Int64?
    var available: Int64?
    var incoming: Int64?

    enum CodingKeys: String, CodingKey {
        case storeID = "store_id", productID = "product_id", quantity, version, movementID = "movement_id"
        case updatedAt = "updated_at", reserved, available, incoming
    }
}

/// One movement of the ledger, as `/audit-logs` and `/v1/changes` list it.
struct MovementAnswer: Decodable, Sendable {
    var movementID: String
    var storeID: String
    var productID: String
    var delta: Int64
    var quantityBefore: Int64
    var quantityAfter: Int64
    var version: Int64
    var reason: String
    var reference: String?
    var actor: String
    var at: String
    var recordedAt: String?

    enum CodingKeys: String, CodingKey {
        case movementID = "movement_id", storeID = "store_id", productID = "product_id", delta
        case quantityBefore = "quantity_before", quantityAfter = "quantity_after", version, reason, reference, actor, at
        case recordedAt = "recorded_at"
    }
}

/// A page of a listing: its items and the cursor of the next page (null on the last).
struct PageAnswer<Item: Decodable & Sendable>: Decodable, Sendable {
    var items: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case items, nextCursor = "next_cursor"
    }
}

/// An `application/problem+json` answer, with the extension members some problems carry.
struct ProblemAnswer: Decodable, Sendable {
    var type: String
    var title: String?
    var status: Int?
    var detail: String?
    /// A version conflict's current version.
    var currentVersion: Int64?
    /// Insufficient stock: what there is.
    var available: Int64?

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, currentVersion = "current_version", available
    }
}

extension Reply {
    /// The body decoded as `T`; throws, naming the field, when the body is not a `T`.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.utf8))
        } catch {
            throw TestFailure("the answer is not a \(T.self) (\(error)): \(body)")
        }
    }
}
