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
            #expect(reply.string("store_id") == "S1")
            #expect(reply.string("product_id") == "P1")
            #expect(reply.int("quantity") == 7)
            #expect(reply.int("version") == 1)
            #expect(reply.string("movement_id")?.count == 36)
            #expect(RFC3339.parse(reply.string("updated_at") ?? "") != nil)

            let count = try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": 4}"#)
            #expect(count.int("quantity") == 4)
            #expect(count.int("version") == 2)
        }
    }

    @Test func getStockOfAnUntouchedProductIsZeroAtVersionZero() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let empty = try await client.call(.get, "/get-stock/S2/P3")
            #expect(empty.status == 200)
            #expect(Set(empty.json.keys) == ["store_id", "product_id", "quantity", "version", "updated_at", "reserved", "available", "incoming"])
            #expect(empty.int("quantity") == 0)
            #expect(empty.int("version") == 0)
            #expect(empty.json["updated_at"] is NSNull)

            let write = try await client.call(.post, "/update-stock/S2/P3", body: #"{"delta": -3, "reason": "sale"}"#)
            let read = try await client.call(.get, "/get-stock/S2/P3")
            #expect(read.int("quantity") == -3)
            #expect(read.int("version") == 1)
            #expect(read.string("updated_at") == write.string("updated_at"))
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
            #expect(write.string("type") == "/problems/unknown-store")
        }
    }

    @Test func versionConflictAndInsufficientStockAre409() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 2}"#)
            let conflict = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "expected_version": 0}"#)
            #expect(conflict.status == 409)
            #expect(conflict.int("current_version") == 1)
            let ok = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "expected_version": 1}"#)
            #expect(ok.int("version") == 2)
            let short = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -4, "reason": "damage"}"#)
            #expect(short.status == 409)
            #expect(short.string("type") == "/problems/insufficient-stock")
            #expect(short.int("available") == 3)
            // A sale is a fact: recorded even below zero.
            let sale = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -4, "reason": "sale"}"#)
            #expect(sale.status == 200)
            #expect(sale.int("quantity") == -1)
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
            let items = reply.items
            #expect(items.count == 2)
            let newest = items[0]
            #expect(Set(newest.keys).isSuperset(of: ["movement_id", "store_id", "product_id", "delta", "quantity_before", "quantity_after",
                                                     "version", "reason", "reference", "actor", "at"]))
            #expect(newest["delta"] as? Int == -3)
            #expect(newest["quantity_before"] as? Int == 10)
            #expect(newest["quantity_after"] as? Int == 7)
            #expect(newest["version"] as? Int == 2)
            #expect(newest["reason"] as? String == "sale")
            #expect(newest["reference"] as? String == "till 4")
            #expect(newest["actor"] as? String == "admin")
            #expect(items[1]["movement_id"] as? String == first.string("movement_id"))

            #expect(try await client.call(.get, "/audit-logs?reason=receipt").items.count == 1)
            #expect(try await client.call(.get, "/audit-logs?product_id=P1&limit=1").items.count == 1)
            #expect(try await client.call(.get, "/audit-logs?actor=nobody").items.isEmpty)
            #expect(try await client.call(.get, "/audit-logs?since=2999-01-01T00:00:00Z").items.isEmpty)
            #expect(try await client.call(.get, "/audit-logs?until=2999-01-01T00:00:00Z").items.count == 3)
        }
    }

    @Test func occurredAtIsRecordedAsTheMovementTime() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale", "occurred_at": "2026-01-02T03:04:05Z"}"#)
            let item = try await client.call(.get, "/audit-logs").items[0]
            #expect(item["at"] as? String == "2026-01-02T03:04:05.000Z")
            #expect(item["recorded_at"] as? String != item["at"] as? String)
        }
    }
}
