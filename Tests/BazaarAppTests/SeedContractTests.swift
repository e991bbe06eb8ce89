import BazaarDomain
import Foundation
import Testing

@Suite("Seed endpoints: the contract of DESIGN.md, field by field")
struct SeedContractTests {
    @Test func updateStockAnswersTheNewLevel() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let reply = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 7, "reason": "receipt", "reference": "PO-1"}"#)
            #expect(reply.status == 200)
            #expect(reply.headers[.contentType] == "application/json")
            #expect(Set(reply.json.keys) == ["store_id", "product_id", "quantity", "version", "movement_id", "updated_at"])
            let level = try reply.decode(StockLevelAnswer.self)
            #expect(level.storeID == "S1")
            #expect(level.productID == "P1")
            #expect(level.quantity == 7)
            #expect(level.version == 1)
            #expect(level.movementID?.count == 36)
            #expect(RFC3339.parse(level.updatedAt ?? "") != nil)

            let count = try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": 4}"#).decode(StockLevelAnswer.self)
            #expect(count.quantity == 4)
            #expect(count.version == 2)
        }
    }

    @Test func getStockOfAnUntouchedProductIsZeroAtVersionZero() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let empty = try await client.call(.get, "/get-stock/S2/P3")
            #expect(empty.status == 200)
            #expect(Set(empty.json.keys) == ["store_id", "product_id", "quantity", "version", "updated_at", "reserved", "available", "incoming"])
            let level = try empty.decode(StockLevelAnswer.self)
            #expect(level.quantity == 0)
            #expect(level.version == 0)
            #expect(empty.json["updated_at"] is NSNull)  // present and null (the key set above), not absent

            let write = try await client.call(.post, "/update-stock/S2/P3", body: #"{"delta": -3, "reason": "sale"}"#).decode(StockLevelAnswer.self)
            let read = try await client.call(.get, "/get-stock/S2/P3").decode(StockLevelAnswer.self)
            #expect(read.quantity == -3)
            #expect(read.version == 1)
            #expect(read.updatedAt != nil && read.updatedAt == write.updatedAt)
        }
    }

    @Test func unknownStoreOrProductIs404() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            for uri in ["/get-stock/S9/P1", "/get-stock/S1/P9"] {
                let reply = try await client.call(.get, uri)
                #expect(reply.status == 404)
                #expect(reply.isProblem)
            }
            let write = try await client.call(.post, "/update-stock/S9/P1", body: #"{"delta": 1}"#)
            #expect(write.status == 404)
            #expect(try write.decode(ProblemAnswer.self).type == "/problems/unknown-store")
        }
    }

    @Test func versionConflictAndInsufficientStockAre409() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 2}"#)
            let conflict = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "expected_version": 0}"#)
            #expect(conflict.status == 409)
            #expect(try conflict.decode(ProblemAnswer.self).currentVersion == 1)
            let ok = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "expected_version": 1}"#)
            #expect(try ok.decode(StockLevelAnswer.self).version == 2)
            let short = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -4, "reason": "damage"}"#)
            #expect(short.status == 409)
            let problem = try short.decode(ProblemAnswer.self)
            #expect(problem.type == "/problems/insufficient-stock")
            #expect(problem.available == 3)
            // A sale is a fact: recorded even below zero.
            let sale = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -4, "reason": "sale"}"#)
            #expect(sale.status == 200)
            #expect(try sale.decode(StockLevelAnswer.self).quantity == -1)
        }
    }

    @Test func auditLogsListNewestFirstWithEveryField() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let first = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 10, "reason": "receipt", "reference": "PO-9"}"#)
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -3, "reason": "sale", "reference": "till 4"}"#)
            _ = try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 1}"#)
            let reply = try await client.call(.get, "/audit-logs?store_id=S1")
            #expect(reply.status == 200)
            #expect(reply.json["next_cursor"] is NSNull)
            let newestKeys = Set(try #require(reply.items.first).keys)
            #expect(newestKeys.isSuperset(of: ["movement_id", "store_id", "product_id", "delta", "quantity_before", "quantity_after",
                                               "version", "reason", "reference", "actor", "at"]))
            let items = try reply.decode(PageAnswer<MovementAnswer>.self).items
            #expect(items.count == 2)
            let newest = try #require(items.first)
            #expect(newest.delta == -3)
            #expect(newest.quantityBefore == 10)
            #expect(newest.quantityAfter == 7)
            #expect(newest.version == 2)
            #expect(newest.reason == "sale")
            #expect(newest.reference == "till 4")
            #expect(newest.actor == "admin")
            #expect(items[1].movementID == (try first.decode(StockLevelAnswer.self).movementID))

            func audit(_ query: String) async throws -> [MovementAnswer] {
                try await client.call(.get, "/audit-logs?" + query).decode(PageAnswer<MovementAnswer>.self).items
            }
            #expect(try await audit("reason=receipt").count == 1)
            #expect(try await audit("product_id=P1&limit=1").count == 1)
            #expect(try await audit("actor=nobody").isEmpty)
            #expect(try await audit("since=2999-01-01T00:00:00Z").isEmpty)
            #expect(try await audit("until=2999-01-01T00:00:00Z").count == 3)
        }
    }

    @Test func occurredAtIsRecordedAsTheMovementTime() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale", "occurred_at": "2026-01-02T03:04:05Z"}"#)
            let item = try #require(try await client.call(.get, "/audit-logs").decode(PageAnswer<MovementAnswer>.self).items.first)
            #expect(item.at == "2026-01-02T03:04:05.000Z")
            #expect(item.recordedAt != nil && item.recordedAt != item.at)
        }
    }
}
