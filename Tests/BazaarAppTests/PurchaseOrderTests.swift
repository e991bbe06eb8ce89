import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HTTPTypes
import Testing

func purchaseOrder(_ lines: [(String, Int64)], store: String = "S1") -> PurchaseOrder {
    let now = WallClock.system.nowMillis()
    return PurchaseOrder(id: PurchaseOrderID.next(), storeID: store, supplier: "Oatly", reference: "PO-1", expectedAtMillis: nil, status: .open,
                         lines: lines.map { PurchaseOrderLine(productID: $0.0, quantity: $0.1) }, createdAtMillis: now, updatedAtMillis: now)
}

/// Purchase orders and `incoming` on every storage engine, and through the API.
@Suite struct PurchaseOrderTests {
    static func open(_ db: borrowing TestDatabase) async throws -> any StockStore & PurchaseOrderStore {
        try #require(try await Stores.open(db) as? any StockStore & PurchaseOrderStore)
    }

    /// `incoming` is the sum of open orders' outstanding quantities; the ledger still balances.
    static func expectConsistent(_ store: any StockStore & PurchaseOrderStore, _ p: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let level = try await store.level(storeID: "S1", productID: p) ?? .empty
        #expect(level.incoming == (try await store.openOrderedTotal(storeID: "S1", productID: p)), sourceLocation: sourceLocation)
        let totals = try await store.ledgerTotals(storeID: "S1", productID: p)
        #expect(totals.sum == level.quantity && totals.rows == level.version, sourceLocation: sourceLocation)
    }

    @Test(arguments: Backend.available)
    func ordersCountAsIncomingUntilReceivedOrClosed(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        let created = try await store.createPurchaseOrder(purchaseOrder([("P1", 10), ("P2", 5)]))
        let id = created.order.id
        #expect(created.order.status == .open && created.order.sequence > 0)
        #expect(created.levels.map(\.productID) == ["P1", "P2"] && created.levels.map(\.level.incoming) == [10, 5])
        let p1 = try #require(try await store.level(storeID: "S1", productID: "P1"))
        #expect(p1.quantity == 0 && p1.version == 0 && p1.incoming == 10 && p1.revision == 1)
        try await Self.expectConsistent(store, "P1")

        let claim = IdempotencyClaim(scope: "k", key: "receipt-1", fingerprint: "f1")
        let first = try await store.receivePurchaseOrder(id: id, lines: [("P1", 4)], actor: "dock", idempotency: claim)
        #expect(first.order.status == .partiallyReceived && first.order.lines.map(\.received) == [4, 0])
        #expect(first.movements.map(\.reason) == [.receipt] && first.movements.first?.reference == id && first.movements.first?.delta == 4)
        #expect(first.movements.first.map { $0.sequence > 0 } == true)
        #expect(first.levels.first?.level.quantity == 4 && first.levels.first?.level.incoming == 6)
        let retry = try await store.receivePurchaseOrder(id: id, lines: [("P1", 4)], actor: "dock", idempotency: claim)
        #expect(retry.replayed && retry.movements == first.movements)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 4, "a retried receipt is applied once")
        await #expect(throws: DomainError.idempotencyKeyReused(key: "receipt-1")) {
            _ = try await store.receivePurchaseOrder(id: id, lines: [("P1", 5)], actor: "dock",
                                                     idempotency: IdempotencyClaim(scope: "k", key: "receipt-1", fingerprint: "f2"))
        }
        await #expect(throws: DomainError.self) {
            _ = try await store.receivePurchaseOrder(id: id, lines: [("P3", 1)], actor: "dock", idempotency: nil)
        }
        // More than ordered is recorded; the order is received once every line is.
        let rest = try await store.receivePurchaseOrder(id: id, lines: [("P2", 5), ("P1", 8)], actor: "dock", idempotency: nil)
        #expect(rest.order.status == .received && rest.order.lines.map(\.received) == [12, 5])
        #expect(rest.order.overReceived.map(\.productID) == ["P1"])
        #expect(rest.movements.map(\.productID) == ["P1", "P2"], "one receipt per line, in product order, in one transaction")
        for p in ["P1", "P2"] {
            #expect(try await store.level(storeID: "S1", productID: p)?.incoming == 0)
            try await Self.expectConsistent(store, p)
        }
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 12)

        // Closing: what is outstanding stops being incoming.
        let second = try await store.createPurchaseOrder(purchaseOrder([("P1", 7)]))
        _ = try await store.receivePurchaseOrder(id: second.order.id, lines: [("P1", 2)], actor: "dock", idempotency: nil)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.incoming == 5)
        let closed = try await store.closePurchaseOrder(id: second.order.id)
        #expect(closed.order.status == .closed && closed.levels.first?.level.incoming == 0)
        try await Self.expectConsistent(store, "P1")
        await #expect(throws: DomainError.purchaseOrderClosed(id: second.order.id)) { _ = try await store.closePurchaseOrder(id: second.order.id) }
        await #expect(throws: DomainError.purchaseOrderClosed(id: second.order.id)) {
            _ = try await store.receivePurchaseOrder(id: second.order.id, lines: [("P1", 1)], actor: "dock", idempotency: nil)
        }
        await #expect(throws: DomainError.notFound(what: "purchase order", id: "po_none")) { _ = try await store.closePurchaseOrder(id: "po_none") }
        #expect(try await store.purchaseOrders(PurchaseOrderQuery(storeID: "S1")).map(\.id) == [second.order.id, id])
        #expect(try await store.purchaseOrders(PurchaseOrderQuery(status: .received)).map(\.id) == [id])
        let events = try await store.eventOutboxBatch(limit: 100).filter { $0.payload.contains("bazaar.stock.purchase-order") }
        #expect(events.count == 6 && Set(events.map(\.eventID)).count == 6, "one event per change: 2 creations, 3 receipts, 1 close")
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func concurrentReceiptsAreAllRecorded(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        let order = try await store.createPurchaseOrder(purchaseOrder([("P1", 5), ("P2", 5)]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<12 {
                group.addTask {
                    _ = try await store.receivePurchaseOrder(id: order.order.id, lines: i % 2 == 0 ? [("P1", 1), ("P2", 1)] : [("P2", 1), ("P1", 1)],
                                                             actor: "dock", idempotency: nil)
                }
                group.addTask { _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: -1, reason: .sale)], actor: "till")) }
            }
            try await group.waitForAll()
        }
        let received = try #require(try await store.purchaseOrder(id: order.order.id))
        #expect(received.status == .received && received.lines.map(\.received) == [12, 12])
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 0)
        for p in ["P1", "P2"] { try await Self.expectConsistent(store, p) }
        try await store.close()
    }

    /// Retries of one receipt sent at once (a dock's client timing out and trying again): applied once, and the order
    /// counts it once. On MySQL every try but the first found the key only after waiting for the stock rows' locks, and
    /// each such replay added the receipt to the order again (`received` 3 for one unit, `incoming` short by as much).
    @Test(arguments: Backend.available)
    func retriesOfOneReceiptSentAtOnceCountOnce(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        let order = try await store.createPurchaseOrder(purchaseOrder([("P1", 3)]))
        for round in 0..<3 {
            let claim = IdempotencyClaim(scope: "k", key: "dock-\(round)", fingerprint: "f")
            let answers = try await withThrowingTaskGroup(of: PurchaseOrderChange.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await store.receivePurchaseOrder(id: order.order.id, lines: [("P1", 1)], actor: "dock", idempotency: claim) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { !$0.replayed }.count == 1, "applied once")
            #expect(Set(answers.map { $0.movements.map(\.movementID) }).count == 1, "every answer names the one movement")
            let now = try #require(try await store.purchaseOrder(id: order.order.id))
            #expect(now.lines.map(\.received) == [Int64(round + 1)], "the order counts each receipt once")
            try await Self.expectConsistent(store, "P1")
        }
        #expect(try await store.level(storeID: "S1", productID: "P1")?.incoming == 0)
        try await store.close()
    }

    /// An order sent again with its idempotency key (a retry after a lost answer, or sent twice at once) is made once:
    /// every answer names the one order and `incoming` counts it once. The same key with another order is refused.
    @Test(arguments: Backend.available)
    func anOrderRetriedWithItsKeyIsMadeOnce(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        let claim = IdempotencyClaim(scope: "k", key: "erp-order-1", fingerprint: "f")
        let answers = try await withThrowingTaskGroup(of: PurchaseOrderChange.self) { group in
            for _ in 0..<16 { group.addTask { try await store.createPurchaseOrder(purchaseOrder([("P1", 4)]), idempotency: claim) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.filter { !$0.replayed }.count == 1, "made once")
        #expect(Set(answers.map(\.order.id)).count == 1, "every answer names the one order")
        let later = try await store.createPurchaseOrder(purchaseOrder([("P1", 4)]), idempotency: claim)
        #expect(later.replayed && later.order.id == answers[0].order.id && later.order.lines.map(\.quantity) == [4])
        #expect(try await store.purchaseOrders(PurchaseOrderQuery(storeID: "S1")).count == 1)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.incoming == 4)
        await #expect(throws: DomainError.idempotencyKeyReused(key: "erp-order-1")) {
            try await store.createPurchaseOrder(purchaseOrder([("P1", 5)]), idempotency: IdempotencyClaim(scope: "k", key: "erp-order-1", fingerprint: "g"))
        }
        let otherCaller = try await store.createPurchaseOrder(purchaseOrder([("P1", 5)]), idempotency: IdempotencyClaim(scope: "k2", key: "erp-order-1", fingerprint: "g"))
        #expect(!otherCaller.replayed, "keys are the caller's own")
        try await Self.expectConsistent(store, "P1")
        try await store.close()
    }

    /// Thresholds of P1 at `store`: reorder at 10, up to 30.
    static func orderUpToThirty(_ system: BazaarSystem, _ store: String) async throws {
        try await system.store.saveThresholds(
            StockThresholds(dailyRate: 2, reorderPoint: 10, orderUpTo: 30, leadTimeDays: 3, anomalyAbove: 1000, historyDays: 60,
                            computedAtMillis: WallClock.system.nowMillis()), storeID: store, productID: "P1")
    }

    /// Through the API: an ERP that sends its order again with the same `Idempotency-Key` (its first answer lost) gets
    /// the first order back, marked as a replay, whether it made the order itself or from the replenishment plan.
    @Test func anOrderSentAgainWithItsKeyIsAnsweredWithTheFirst() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            let body = #"{"store_id": "S1", "supplier": "Oatly", "lines": [{"product_id": "P1", "quantity": 24}]}"#
            let key: HTTPFields = [.init("Idempotency-Key")!: "erp-po-881"]
            let made = try await client.call(.post, "/v1/purchase-orders", body: body, headers: key)
            let again = try await client.call(.post, "/v1/purchase-orders", body: body, headers: key)
            #expect(made.status == 201 && again.status == 200, "\(again.body)")
            #expect(again.string("purchase_order_id") == made.string("purchase_order_id") && again.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(made.headers[.init("Idempotent-Replayed")!] == nil)
            #expect(try await client.call(.get, "/get-stock/S1/P1").int("incoming") == 24, "counted once")
            let changed = try await client.call(.post, "/v1/purchase-orders", body: body.replacingOccurrences(of: "24", with: "25"), headers: key)
            #expect(changed.status == 422 && changed.string("type") == "/problems/idempotency-key-reused", "\(changed.body)")
            #expect(try await client.call(.get, "/v1/purchase-orders").items.count == 1)

            // From the plan: the retry finds the first order, not "nothing to replenish" (the first order made it so).
            _ = try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 5, "reason": "receipt"}"#)
            try await Self.orderUpToThirty(system, "S2")
            let planKey: HTTPFields = [.init("Idempotency-Key")!: "plan-S2-1"]
            let planned = try await client.call(.post, "/v1/stores/S2/replenishment/purchase-order", body: #"{"supplier": "Oatly"}"#, headers: planKey)
            #expect(planned.status == 201, "\(planned.body)")
            let retried = try await client.call(.post, "/v1/stores/S2/replenishment/purchase-order", body: #"{"supplier": "Oatly"}"#, headers: planKey)
            #expect(retried.status == 200 && retried.string("purchase_order_id") == planned.string("purchase_order_id"), "\(retried.body)")
            #expect(retried.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(try await client.call(.get, "/get-stock/S2/P1").int("incoming") == 25)
            let plain = try await client.call(.post, "/v1/stores/S2/replenishment/purchase-order", body: #"{"supplier": "Oatly"}"#)
            #expect(plain.status == 409, "without the key it is a new request: nothing left to order")

            // Sent twice at once (a double click): a call that reads the plan after the other's order finds it empty,
            // and answers that order rather than "nothing to replenish".
            _ = try await client.call(.post, "/update-stock/S3/P1", body: #"{"delta": 5, "reason": "receipt"}"#)
            try await Self.orderUpToThirty(system, "S3")
            let clickKey: HTTPFields = [.init("Idempotency-Key")!: "plan-S3-click"]
            let clicks = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await client.call(.post, "/v1/stores/S3/replenishment/purchase-order", body: #"{"supplier": "Oatly"}"#, headers: clickKey) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(clicks.allSatisfy { [200, 201].contains($0.status) }, "\(clicks.map(\.status))")
            #expect(Set(clicks.compactMap { $0.string("purchase_order_id") }).count == 1)
            #expect(try await client.call(.get, "/get-stock/S3/P1").int("incoming") == 25)
        }
    }

    @Test func purchaseOrdersThroughTheAPI() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let made = try await client.call(.post, "/v1/purchase-orders", body: """
                {"store_id": "S1", "supplier": "Oatly", "reference": "PO-881", "expected_at": "2026-12-01T08:00:00Z",
                 "lines": [{"product_id": "P2", "quantity": 6}, {"product_id": "P1", "quantity": 24}]}
                """)
            #expect(made.status == 201, "\(made.body)")
            let id = try #require(made.string("purchase_order_id"))
            #expect(made.string("status") == "open" && made.string("expected_at") == "2026-12-01T08:00:00.000Z")
            #expect((made.json["lines"] as? [[String: Any]])?.compactMap { $0["product_id"] as? String } == ["P1", "P2"])
            let stock = try await client.call(.get, "/get-stock/S1/P1")
            #expect(stock.int("incoming") == 24 && stock.int("quantity") == 0 && stock.int("available") == 0)

            let receipt = #"{"lines": [{"product_id": "P1", "quantity": 30}]}"#
            let key: HTTPFields = [.init("Idempotency-Key")!: "dock-1"]
            let got = try await client.call(.post, "/v1/purchase-orders/\(id)/receipts", body: receipt, headers: key)
            #expect(got.status == 200, "\(got.body)")
            #expect((got.json["purchase_order"] as? [String: Any])?["status"] as? String == "partially_received")
            #expect((got.json["movements"] as? [[String: Any]])?.first?["quantity"] as? Int == 30)
            #expect((got.json["over_received"] as? [[String: Any]])?.first?["product_id"] as? String == "P1")
            let again = try await client.call(.post, "/v1/purchase-orders/\(id)/receipts", body: receipt, headers: key)
            #expect(again.status == 200 && again.headers[.init("Idempotent-Replayed")!] == "true")
            #expect((again.json["movements"] as? [[String: Any]])?.first?["movement_id"] as? String
                == (got.json["movements"] as? [[String: Any]])?.first?["movement_id"] as? String)
            let after = try await client.call(.get, "/get-stock/S1/P1")
            #expect(after.int("quantity") == 30 && after.int("incoming") == 0 && after.int("version") == 1)
            let audit = try await client.call(.get, "/audit-logs?store_id=S1&reason=receipt")
            #expect(audit.items.count == 1 && audit.items.first?["reference"] as? String == id)

            let closed = try await client.call(.post, "/v1/purchase-orders/\(id)/close")
            #expect(closed.status == 200 && closed.string("status") == "closed")
            #expect(try await client.call(.get, "/get-stock/S1/P2").int("incoming") == 0)
            let late = try await client.call(.post, "/v1/purchase-orders/\(id)/receipts", body: #"{"lines": [{"product_id": "P2", "quantity": 1}]}"#)
            #expect(late.status == 409 && late.string("type") == "/problems/purchase-order-closed")
            #expect(try await client.call(.get, "/v1/purchase-orders/\(id)").string("status") == "closed")
            #expect(try await client.call(.get, "/v1/purchase-orders?store_id=S1&status=closed").items.count == 1)

            let bad: [(String, String, Int)] = [
                ("/v1/purchase-orders", #"{"store_id": "S1", "supplier": "x", "lines": []}"#, 422),
                ("/v1/purchase-orders", #"{"store_id": "S1", "supplier": "x", "lines": [{"product_id": "P1", "quantity": 0}]}"#, 422),
                ("/v1/purchase-orders", #"{"store_id": "S1", "supplier": "x", "lines": [{"product_id": "P1", "quantity": 1}, {"product_id": "P1", "quantity": 2}]}"#, 422),
                ("/v1/purchase-orders", #"{"store_id": "S1", "supplier": " ", "lines": [{"product_id": "P1", "quantity": 1}]}"#, 422),
                ("/v1/purchase-orders", #"{"store_id": "S1", "supplier": "x", "expected_at": "soon", "lines": [{"product_id": "P1", "quantity": 1}]}"#, 422),
                ("/v1/purchase-orders", #"{"store_id": "S1", "supplier": "x", "lines": [{"product_id": "P9", "quantity": 1}]}"#, 404),
                ("/v1/purchase-orders", #"{"store_id": "S9", "supplier": "x", "lines": [{"product_id": "P1", "quantity": 1}]}"#, 404),
                ("/v1/purchase-orders/po_none/receipts", #"{"lines": [{"product_id": "P1", "quantity": 1}]}"#, 404),
            ]
            for (uri, body, status) in bad {
                let reply = try await client.call(.post, uri, body: body)
                #expect(reply.status == status && reply.isProblem, "\(body): \(reply.status) \(reply.body)")
            }
            #expect(try await client.call(.get, "/v1/purchase-orders").items.count == 1, "nothing refused was applied")
        }
    }
}
