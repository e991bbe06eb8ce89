import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarSQLite
import Foundation
import Testing

@Suite("Restart, outbox and events: invariant 3", .ownConsistencyTokens)
struct DurabilityAndEventsTests {
    @Test func aRestartKeepsEverything() async throws {
        let db = TestDatabase()
        let first = try await Harness.system(db.url)
        let (managerKey, firstAnswer) = try await first.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "Leeds", "attributes": {"region": "north"}}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "pack_size": 12}"#)
            let managerKey = try await client.key(role: "manager", name: "erp")
            let firstAnswer = try await client.call(.post, "/update-stock/S1/P1", key: managerKey, body: #"{"delta": 9, "reason": "receipt"}"#,
                                                headers: [.init("Idempotency-Key")!: "r-1"]).body
            _ = try await client.call(.post, "/update-stock/S1/P1", key: managerKey, body: #"{"delta": -2, "reason": "sale"}"#)
            return (managerKey, firstAnswer)
        }
        try await first.store.close()

        let second = try await Harness.system(db.url)
        try await second.application().test(.router) { [managerKey, firstAnswer] client in
            let level = try await client.call(.get, "/get-stock/S1/P1", key: managerKey)
            #expect(level.status == 200)
            #expect(level.int("quantity") == 7)
            #expect(level.int("version") == 2)
            #expect(try await client.call(.get, "/v1/stores/S1").json["attributes"] as? [String: String] == ["region": "north"])
            #expect(try await client.call(.get, "/v1/products/P1").int("pack_size") == 12)
            #expect(try await client.call(.get, "/audit-logs").items.count == 2)
            let replay = try await client.call(.post, "/update-stock/S1/P1", key: managerKey, body: #"{"delta": 9, "reason": "receipt"}"#,
                                               headers: [.init("Idempotency-Key")!: "r-1"])
            #expect(replay.body == firstAnswer, "an idempotent retry after a restart gets the same answer")
            #expect(try await second.store.ledgerTotals(storeID: "S1", productID: "P1") == (7, 2))
        }
        #expect(second.newAdminKey == nil)
    }

    @Test func everyCommittedMovementIsPublishedOnceAndRefusedOnesNever() async throws {
        let db = TestDatabase()
        let system = try await Harness.system(db.url)
        let events = system.bus.subscribe(topic: MovementEvent.topic)
        let committed = try await system.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "a"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "b"}"#)
            var ids: [String] = []
            for i in 0..<40 {
                let body = i % 5 == 4 ? #"{"delta": -1000, "reason": "damage"}"# : #"{"delta": 3}"#
                let reply = try await client.call(.post, "/update-stock/S1/P1", body: body)
                if reply.status == 200 { ids.append(reply.string("movement_id")!) } else { #expect(reply.status == 409) }
            }
            let batch = try await client.call(.post, "/v1/movements", body: #"{"movements": [{"store_id": "S1", "product_id": "P1", "delta": 1}, {"store_id": "S1", "product_id": "P1", "delta": -999, "reason": "adjustment"}]}"#)
            #expect(batch.status == 409)
            // Wait for the relay to publish everything, for 60 s at most (generous for a loaded machine; an event
            // that is never published still fails).
            #expect(try await eventually(seconds: 60) { try await system.store.outboxDepth() == 0 }, "the outbox drained")
            return ids
        }
        #expect(committed.count == 32)
        var received: [String] = []
        var iterator = events.makeAsyncIterator()
        while received.count < committed.count, let event = await iterator.next() {
            received.append(event.id)
            let json = try JSONSerialization.jsonObject(with: Data(event.payload.utf8)) as! [String: Any]
            #expect(json["specversion"] as? String == "1.0")
            #expect(json["type"] as? String == "bazaar.stock.movement")
            #expect(json["source"] as? String == "/stores/S1")
            #expect(json["id"] as? String == event.id)
            #expect(event.key == "S1")
            let data = json["data"] as! [String: Any]
            #expect(data["movement_id"] as? String == event.id)
            #expect(data["store_id"] as? String == "S1")
            // What a Kafka consumer reads back (the engine and the caches of other nodes) is the movement itself.
            var decoded = try #require(Movement(cloudEventJSON: event.payload))
            let original = try #require(event.movement)
            decoded.sequence = original.sequence
            #expect(decoded == original)
        }
        #expect(received == committed, "every committed movement once, in commit order, and nothing else")
    }

    @Test func oneRefusedWriteNeverFailsItsNeighboursInAGroupCommit() async throws {
        let db = TestDatabase()
        let store = try await Stores.open(db)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let change: StockChange = i % 10 == 9 ? .delta(-1_000_000) : .delta(1)
                    let reason: MovementReason = i % 10 == 9 ? .adjustment : .receipt
                    let command = try MovementCommand(storeID: "S1", productID: "P\(i % 4)", change: change, reason: reason)
                    do {
                        _ = try await store.apply(WriteRequest(commands: [command], actor: "t"))
                        return true
                    } catch DomainError.insufficientStock {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 180)
        var total: Int64 = 0
        for p in 0..<4 {
            let totals = try await store.ledgerTotals(storeID: "S1", productID: "P\(p)")
            let level = try await store.level(storeID: "S1", productID: "P\(p)")
            #expect(level?.quantity == totals.sum && level?.version == totals.rows)
            total += totals.sum
        }
        #expect(total == 180)
        #expect(try await store.outboxDepth() == 180)
        try await store.close()
    }
}
