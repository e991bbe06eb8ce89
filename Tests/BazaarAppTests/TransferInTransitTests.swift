import BazaarCore
import BazaarDomain
import Foundation
import HTTPTypes
import Testing

/// Transfers in transit on every storage engine, and through the API.
@Suite struct TransferInTransitTests {
    static func open(_ db: borrowing TestDatabase) async throws -> any StockStore & TransferStore & ReservationStore {
        try #require(try await Stores.open(db) as? any StockStore & TransferStore & ReservationStore)
    }

    static func transfer(_ quantity: Int64, from: String = "S1", to: String = "S2") -> TransferInTransit {
        let now = WallClock.system.nowMillis()
        return TransferInTransit(id: TransferID.next(), fromStoreID: from, toStoreID: to, productID: "P1", quantity: quantity, status: .inTransit,
                                 reference: nil, createdAtMillis: now, updatedAtMillis: now)
    }

    @Test(arguments: Backend.available)
    func shippedStockIsIncomingAtTheDestinationUntilReceived(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 10)], actor: "t"))
        _ = try await store.createReservation(reservation(quantity: 4), idempotency: nil)
        // A shipment is a command at the source: refused beyond `available` (10 on hand, 4 reserved).
        await #expect(throws: DomainError.insufficientStock(storeID: "S1", productID: "P1", available: 6, requested: 7)) {
            _ = try await store.shipTransfer(Self.transfer(7), actor: "t", idempotency: nil)
        }
        let claim = IdempotencyClaim(scope: "k", key: "ship-1", fingerprint: "f")
        let shipped = try await store.shipTransfer(Self.transfer(6), actor: "van", idempotency: claim)
        #expect(shipped.transfer.status == .inTransit && shipped.movement?.reason == .transferOut && shipped.movement?.delta == -6)
        #expect(shipped.movement.map { $0.sequence > 0 } == true && shipped.transfer.shippedMovementID == shipped.movement?.movementID)
        let retry = try await store.shipTransfer(Self.transfer(6), actor: "van", idempotency: claim)
        #expect(retry.replayed && retry.transfer.id == shipped.transfer.id)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 4, "a retried shipment is applied once")
        let destination = try #require(try await store.level(storeID: "S2", productID: "P1"))
        #expect(destination.quantity == 0 && destination.incoming == 6 && destination.version == 0)
        #expect(try await store.inTransitTotal(storeID: "S2", productID: "P1") == 6)

        // 5 of 6 arrive: the transfer_in of 5, the shipment leaves incoming, the shortfall is kept.
        let received = try await store.receiveTransfer(id: shipped.transfer.id, quantity: 5, actor: "dock")
        #expect(received.transfer.status == .received && received.transfer.received == 5 && received.transfer.shortfall == 1)
        #expect(received.movement?.reason == .transferIn && received.movement?.delta == 5 && received.movement.map { $0.sequence > 0 } == true)
        let after = try #require(try await store.level(storeID: "S2", productID: "P1"))
        #expect(after.quantity == 5 && after.incoming == 0 && after.version == 1 && received.levels.first?.level == after)
        #expect(try await store.inTransitTotal(storeID: "S2", productID: "P1") == 0)
        await #expect(throws: DomainError.transferAlreadyReceived(id: shipped.transfer.id)) {
            _ = try await store.receiveTransfer(id: shipped.transfer.id, quantity: nil, actor: "dock")
        }
        // More than shipped is refused; nothing arriving records no ledger row.
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 2)], actor: "t"))  // S1 had 4, all reserved
        let lost = try await store.shipTransfer(Self.transfer(2), actor: "van", idempotency: nil)
        await #expect(throws: DomainError.self) { _ = try await store.receiveTransfer(id: lost.transfer.id, quantity: 3, actor: "dock") }
        let none = try await store.receiveTransfer(id: lost.transfer.id, quantity: 0, actor: "dock")
        #expect(none.movement == nil && none.transfer.shortfall == 2 && none.levels.first?.level.incoming == 0)
        for s in ["S1", "S2"] {
            let level = try await store.level(storeID: s, productID: "P1") ?? .empty
            let totals = try await store.ledgerTotals(storeID: s, productID: "P1")
            #expect(totals.sum == level.quantity && totals.rows == level.version)
        }
        #expect(try await store.eventOutboxBatch(limit: 100).filter { $0.payload.contains("bazaar.stock.transfer") }.count == 4)
        try await store.close()
    }

    @Test func transfersInTransitThroughTheAPI() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 10, "reason": "receipt"}"#)
            let body = #"{"from_store_id": "S1", "to_store_id": "S2", "product_id": "P1", "quantity": 8, "in_transit": true}"#
            let shipped = try await client.call(.post, "/v1/transfers", body: body, headers: [.init("Idempotency-Key")!: "van-1"])
            #expect(shipped.status == 201 && shipped.string("status") == "in_transit", "\(shipped.body)")
            let id = try #require(shipped.string("transfer_id"))
            let retry = try await client.call(.post, "/v1/transfers", body: body, headers: [.init("Idempotency-Key")!: "van-1"])
            #expect(retry.status == 200 && retry.string("transfer_id") == id)
            #expect(try await client.call(.get, "/get-stock/S1/P1").int("quantity") == 2)
            #expect(try await client.call(.get, "/get-stock/S2/P1").int("incoming") == 8)
            #expect(try await client.call(.get, "/v1/transfers/\(id)").string("status") == "in_transit")
            let atomic = try await client.call(.post, "/v1/transfers", body: #"{"from_store_id": "S1", "to_store_id": "S3", "product_id": "P1", "quantity": 1}"#)
            #expect(atomic.status == 200 && atomic.json["to"] != nil, "without in_transit a transfer is atomic as before")

            let received = try await client.call(.post, "/v1/transfers/\(id)/receive", body: #"{"quantity": 6}"#)
            #expect(received.status == 200 && received.int("received") == 6 && received.int("shortfall") == 2, "\(received.body)")
            let stock = try await client.call(.get, "/get-stock/S2/P1")
            #expect(stock.int("quantity") == 6 && stock.int("incoming") == 0)
            let alerts = try await client.call(.get, "/v1/alerts?store_id=S2&kind=shrinkage")
            #expect(alerts.items.count == 1 && alerts.items.first?["threshold"] as? Double == 8, "\(alerts.body)")
            let again = try await client.call(.post, "/v1/transfers/\(id)/receive", body: "{}")
            #expect(again.status == 409 && again.string("type") == "/problems/transfer-already-received")

            let bad: [(String, String, Int)] = [
                ("/v1/transfers", #"{"from_store_id": "S1", "to_store_id": "S2", "product_id": "P1", "quantity": 5, "in_transit": true}"#, 409),
                ("/v1/transfers", #"{"from_store_id": "S1", "to_store_id": "S1", "product_id": "P1", "quantity": 1, "in_transit": true}"#, 422),
                ("/v1/transfers", #"{"from_store_id": "S1", "to_store_id": "S9", "product_id": "P1", "quantity": 1, "in_transit": true}"#, 404),
                ("/v1/transfers", #"{"from_store_id": "S1", "to_store_id": "S2", "product_id": "P1", "quantity": 1, "in_transit": "yes"}"#, 422),
                ("/v1/transfers/trf_none/receive", "{}", 404),
            ]
            for (uri, body, status) in bad {
                let reply = try await client.call(.post, uri, body: body)
                #expect(reply.status == status && reply.isProblem, "\(body): \(reply.status) \(reply.body)")
            }
            #expect(try await client.call(.get, "/get-stock/S1/P1").int("quantity") == 1, "nothing refused was applied")
        }
    }
}
