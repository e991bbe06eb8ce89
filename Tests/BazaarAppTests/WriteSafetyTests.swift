import BazaarCore
import Foundation
import Testing

@Suite("Concurrent writers, idempotency, paging: invariants 1 and 2")
struct WriteSafetyTests {
    @Test func sixtyFourConcurrentClientsEndAtTheExactQuantityAndVersion() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            let clients = 64, writesEach = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<clients {
                    group.addTask {
                        for w in 0..<writesEach {
                            // Even clients add 2 and take 1 alternately; odd ones take 1 and add 1.
                            let delta = c % 2 == 0 ? (w % 2 == 0 ? 2 : -1) : (w % 2 == 0 ? -1 : 1)
                            let reply = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": \#(delta)}"#)
                            #expect(reply.status == 200 || reply.status == 409, "\(reply.body)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let level = try await client.call(.get, "/get-stock/S1/P1")
            let totals = try await system.store.ledgerTotals(storeID: "S1", productID: "P1")
            // Invariant 1: level = sum of ledger, version = number of ledger rows.
            #expect(level.int("quantity") == totals.sum)
            #expect(level.int("version") == totals.rows)
            let stored = try await fresh { try await system.store.level(storeID: "S1", productID: "P1") }
            #expect(stored?.quantity == totals.sum)
            #expect(stored?.version == totals.rows)
        }
    }

    @Test func exactArithmeticUnderConcurrencyWithNoRefusals() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            _ = try await client.call(.post, "/update-stock/S1/P2", body: #"{"delta": 1000, "reason": "receipt"}"#)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<64 {
                    group.addTask {
                        for _ in 0..<10 {
                            let reply = try await client.call(.post, "/update-stock/S1/P2", body: c % 2 == 0 ? #"{"delta": 1}"# : #"{"delta": -1}"#)
                            #expect(reply.status == 200)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let level = try await client.call(.get, "/get-stock/S1/P2")
            #expect(level.int("quantity") == 1000)
            #expect(level.int("version") == 641)
            let totals = try await system.store.ledgerTotals(storeID: "S1", productID: "P2")
            #expect(totals.sum == 1000 && totals.rows == 641)
        }
    }

    @Test func sameIdempotencyKeyFiredConcurrentlyIsAppliedOnce() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 5, "reason": "receipt"}"#,
                                              headers: [.init("Idempotency-Key")!: "po-77"])
                    }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            #expect(Set(replies.compactMap { $0.string("movement_id") }).count == 1)
            #expect(Set(replies.map(\.body)).count == 1)
            #expect(replies.filter { $0.headers[.init("Idempotent-Replayed")!] == "true" }.count == 31)
            let totals = try await system.store.ledgerTotals(storeID: "S1", productID: "P1")
            #expect(totals.sum == 5 && totals.rows == 1)

            let different = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 6, "reason": "receipt"}"#,
                                                  headers: [.init("Idempotency-Key")!: "po-77"])
            #expect(different.status == 422)
            #expect(different.string("type") == "/problems/idempotency-key-reused")
            // The same key from another API key is another request.
            let other = try await client.key(role: "manager")
            let otherReply = try await client.call(.post, "/update-stock/S1/P1", key: other, body: #"{"delta": 6, "reason": "receipt"}"#,
                                                   headers: [.init("Idempotency-Key")!: "po-77"])
            #expect(otherReply.status == 200)
            #expect(otherReply.int("quantity") == 11)
        }
    }

    @Test func auditPagingWhileWritesGoOnHasNoGapAndNoRepeat() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            for i in 0..<120 {
                _ = try await client.call(.post, "/update-stock/S1/P\(i % 3 + 1)", body: #"{"delta": 1}"#)
            }
            let before = try await client.call(.get, "/audit-logs?limit=1000").items.compactMap { $0["movement_id"] as? String }
            #expect(before.count == 120)
            let writer = Task {
                for _ in 0..<100 { _ = try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 1}"#) }
            }
            var seen: [String] = []
            var cursor: String? = nil
            repeat {
                let uri = "/audit-logs?store_id=S1&limit=7" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await client.call(.get, uri)
                #expect(page.status == 200)
                seen += page.items.compactMap { $0["movement_id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            try await writer.value
            #expect(seen == before, "paging must list exactly the rows that existed, newest first")
        }
    }

    @Test func batchIsAllOrNothing() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            let ok = try await client.call(.post, "/v1/movements", body: """
                {"movements": [{"store_id": "S1", "product_id": "P1", "delta": 5, "reason": "receipt"},
                               {"store_id": "S1", "product_id": "P1", "delta": -2, "reason": "sale"},
                               {"store_id": "S2", "product_id": "P2", "quantity": 9}]}
                """)
            #expect(ok.status == 200)
            let results = ok.json["movements"] as? [[String: Any]] ?? []
            #expect(results.map { $0["quantity"] as? Int } == [5, 3, 9])
            let refused = try await client.call(.post, "/v1/movements", body: """
                {"movements": [{"store_id": "S1", "product_id": "P1", "delta": 1},
                               {"store_id": "S1", "product_id": "P1", "delta": -50, "reason": "adjustment"}]}
                """)
            #expect(refused.status == 409)
            #expect(try await system.store.ledgerTotals(storeID: "S1", productID: "P1").rows == 2)
            let tooMany = (0..<101).map { _ in #"{"store_id": "S1", "product_id": "P1", "delta": 1}"# }.joined(separator: ",")
            let big = try await client.call(.post, "/v1/movements", body: "{\"movements\": [\(tooMany)]}")
            #expect(big.status == 422)
            let badItem = try await client.call(.post, "/v1/movements", body: #"{"movements": [{"store_id": "S1", "product_id": "P1", "delta": 1}, {"store_id": "S1", "delta": 1}]}"#)
            #expect(badItem.status == 422)
            #expect(badItem.string("field") == "movements[1].product_id")
            #expect(try await system.store.ledgerTotals(storeID: "S1", productID: "P1").rows == 2)
        }
    }

    @Test func transferIsOneAtomicPair() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": 10}"#)
            let moved = try await client.call(.post, "/v1/transfers", body: #"{"from_store_id": "S1", "to_store_id": "S2", "product_id": "P1", "quantity": 4, "reference": "T-1"}"#)
            #expect(moved.status == 200)
            #expect((moved.json["from"] as? [String: Any])?["quantity"] as? Int == 6)
            #expect((moved.json["to"] as? [String: Any])?["quantity"] as? Int == 4)
            let reasons = try await client.call(.get, "/audit-logs?product_id=P1&limit=2").items.map { $0["reason"] as? String }
            #expect(reasons == ["transfer_in", "transfer_out"])
            let tooMuch = try await client.call(.post, "/v1/transfers", body: #"{"from_store_id": "S1", "to_store_id": "S2", "product_id": "P1", "quantity": 7}"#)
            #expect(tooMuch.status == 409)
            #expect(try await system.store.ledgerTotals(storeID: "S2", productID: "P1") == (4, 1))
            let unknownTarget = try await client.call(.post, "/v1/transfers", body: #"{"from_store_id": "S1", "to_store_id": "S9", "product_id": "P1", "quantity": 1}"#)
            #expect(unknownTarget.status == 404)
            #expect(try await system.store.ledgerTotals(storeID: "S1", productID: "P1") == (6, 2))
        }
    }

    @Test func storeAndProductStockListingsAndChangesFeed() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            for (store, product, delta) in [("S1", "P1", 3), ("S1", "P2", 4), ("S2", "P1", 5), ("S1", "P3", 6)] {
                _ = try await client.call(.post, "/update-stock/\(store)/\(product)", body: #"{"delta": \#(delta)}"#)
            }
            let page1 = try await client.call(.get, "/v1/stores/S1/stock?limit=2")
            #expect(page1.items.map { $0["product_id"] as? String } == ["P1", "P2"])
            let next = try #require(page1.string("next_cursor"))
            let page2 = try await client.call(.get, "/v1/stores/S1/stock?limit=2&cursor=\(next)")
            #expect(page2.items.map { $0["product_id"] as? String } == ["P3"])
            #expect(page2.json["next_cursor"] is NSNull)
            let across = try await client.call(.get, "/v1/products/P1/stock")
            #expect(across.items.map { $0["store_id"] as? String } == ["S1", "S2"])
            #expect(across.int("page_total_quantity") == 8)

            let feed = try await client.call(.get, "/v1/changes?limit=3")
            #expect(feed.items.map { $0["delta"] as? Int } == [3, 4, 5])
            let rest = try await client.call(.get, "/v1/changes?cursor=\(feed.string("next_cursor")!)")
            #expect(rest.items.map { $0["delta"] as? Int } == [6])
            let idle = try await client.call(.get, "/v1/changes?cursor=\(rest.string("next_cursor")!)")
            #expect(idle.items.isEmpty)
            #expect(idle.string("next_cursor") == rest.string("next_cursor"))
        }
    }
}
