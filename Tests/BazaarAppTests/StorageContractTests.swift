import BazaarCore
import BazaarDomain
import BazaarMySQL
import BazaarSQLite
import Foundation
import MySQLClient
import Testing

/// Opens the storage engine of a test database, migrated.
enum Stores {
    static func open(_ db: borrowing TestDatabase) async throws -> any StockStore {
        let store: any StockStore
        switch db.backend {
        case .sqlite:
            store = try SQLiteStockStore(path: String(db.url.dropFirst("sqlite://".count)))
        case .mariadb:
            // The primary alone: the contract is read-after-write; replicas have suites of their own.
            store = MySQLStockStore(options: .init(primary: try MySQLConfiguration(url: db.url)))
        }
        try await store.migrate()
        return store
    }
}

func command(_ store: String = "S1", _ product: String = "P1", delta: Int64, reason: MovementReason? = nil) throws -> MovementCommand {
    try MovementCommand(storeID: store, productID: product, change: .delta(delta), reason: reason ?? (delta > 0 ? .receipt : .sale))
}

/// What every storage engine must do, run against each of them (SQLite always; MariaDB when the test servers run).
@Suite struct StorageContractTests {
    @Test(arguments: Backend.available)
    func aWriteUpdatesLevelLedgerAndOutboxTogether(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let receipt = try await store.apply(WriteRequest(commands: [try command(delta: 7)], actor: "tester"))
        let movement = try #require(receipt.movements.first)
        #expect(movement.quantityBefore == 0 && movement.quantityAfter == 7 && movement.version == 1 && movement.sequence > 0)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 7)
        let totals = try await store.ledgerTotals(storeID: "S1", productID: "P1")
        #expect(totals.sum == 7 && totals.rows == 1)
        let outbox = try await store.outboxBatch(limit: 10)
        #expect(outbox.map(\.eventID) == [movement.movementID])
        #expect(outbox.first?.movement == movement)
        try await store.deleteOutbox(sequences: outbox.map(\.sequence))
        #expect(try await store.outboxDepth() == 0)
        let audit = try await store.auditLog(AuditQuery(storeID: "S1"))
        #expect(audit == [movement])
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func aRefusedMultiCommandRequestLeavesNothingAndItsNeighboursCommit(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: 5)], actor: "t"))
        // Many requests at once so they share group commits; every 5th is a transfer that cannot be covered.
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<60 {
                group.addTask {
                    let request: WriteRequest
                    if i % 5 == 0 {
                        request = WriteRequest(commands: [try command("S2", "P1", delta: 1, reason: .transferIn),
                                                          try command("S1", "P1", delta: -1_000, reason: .transferOut)], actor: "t")
                    } else {
                        request = WriteRequest(commands: [try command("S3", "P\(i % 3)", delta: 1)], actor: "t")
                    }
                    do {
                        _ = try await store.apply(request)
                        return (i, true)
                    } catch DomainError.insufficientStock {
                        return (i, false)
                    }
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { !$0.value }.keys.sorted() == Array(stride(from: 0, to: 60, by: 5)))
        #expect(try await store.level(storeID: "S2", productID: "P1") == nil, "the refused transfers' first halves left nothing")
        #expect(try await store.ledgerTotals(storeID: "S2", productID: "P1").rows == 0)
        var total: Int64 = 0
        for p in 0..<3 {
            let level = try #require(try await store.level(storeID: "S3", productID: "P\(p)"))
            let totals = try await store.ledgerTotals(storeID: "S3", productID: "P\(p)")
            #expect(level.quantity == totals.sum && level.version == totals.rows)
            total += level.quantity
        }
        #expect(total == 48)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func idempotencyKeysReplayAndRefuseAnotherRequest(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let claim = IdempotencyClaim(scope: "key1", key: "retry-1", fingerprint: "f1")
        // The same key sent concurrently: exactly one application, every answer the same movements.
        let receipts = try await withThrowingTaskGroup(of: WriteReceipt.self) { group in
            for _ in 0..<10 {
                group.addTask { try await store.apply(WriteRequest(commands: [try command(delta: 3)], actor: "t", idempotency: claim)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(receipts.map { $0.movements.map(\.movementID) }).count == 1)
        #expect(receipts.filter { !$0.replayed }.count == 1)
        #expect(receipts.allSatisfy { $0.movements[0].sequence > 0 })
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 3)
        await #expect(throws: DomainError.idempotencyKeyReused(key: "retry-1")) {
            try await store.apply(WriteRequest(commands: [try command(delta: 4)], actor: "t",
                                               idempotency: IdempotencyClaim(scope: "key1", key: "retry-1", fingerprint: "f2")))
        }
        // Another API key's scope is another namespace.
        let other = try await store.apply(WriteRequest(commands: [try command(delta: 4)], actor: "t",
                                                       idempotency: IdempotencyClaim(scope: "key2", key: "retry-1", fingerprint: "f2")))
        #expect(!other.replayed)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func requestsAppliedInOrderInOneTransactionEachWithItsOwnOutcome(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let claim = { (key: String) in IdempotencyClaim(scope: "group", key: key, fingerprint: "f-" + key) }
        let counted = try MovementCommand(storeID: "S1", productID: "P1", change: .quantity(3), reason: .count)
        let first = await store.applyInOrder([WriteRequest(commands: [try command(delta: 5)], actor: "k", idempotency: claim("c0"))])
        #expect(try first[0].get().movements[0].quantityAfter == 5)
        let results = await store.applyInOrder([
            WriteRequest(commands: [try command(delta: 5)], actor: "k", idempotency: claim("c0")),  // a replay
            WriteRequest(commands: [try command(delta: -9, reason: .damage)], actor: "k", idempotency: claim("c1")),  // refused: 5 on hand
            WriteRequest(commands: [counted], actor: "k", idempotency: claim("c2")),  // then counted: 3
            WriteRequest(commands: [try command(delta: -1)], actor: "k", idempotency: claim("c3")),
            WriteRequest(commands: [try command(delta: 4)], actor: "k",
                         idempotency: IdempotencyClaim(scope: "group", key: "c3", fingerprint: "another")),  // key reused in the batch
            WriteRequest(commands: [try command(delta: 2)], actor: "k", idempotency: claim("c4")),
        ])
        #expect(try results[0].get().replayed && results[0].get().movements == first[0].get().movements)
        #expect(throws: DomainError.insufficientStock(storeID: "S1", productID: "P1", available: 5, requested: 9)) { try results[1].get() }
        #expect(throws: DomainError.idempotencyKeyReused(key: "c3")) { try results[4].get() }
        // In the order given: the count, then the sale, then the receipt.
        #expect(try [2, 3, 5].map { try results[$0].get().movements[0].quantityAfter } == [3, 2, 4])
        #expect(try [2, 3, 5].map { try results[$0].get().movements[0].version } == [2, 3, 4])
        let level = try #require(try await store.level(storeID: "S1", productID: "P1"))
        let totals = try await store.ledgerTotals(storeID: "S1", productID: "P1")
        #expect(level.quantity == 4 && level.version == 4 && totals.sum == 4 && totals.rows == 4)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func concurrentWritesOnOneKeyLoseNoUpdate(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                group.addTask { _ = try await store.apply(WriteRequest(commands: [try command(delta: i % 2 == 0 ? 2 : 1)], actor: "t")) }
            }
            try await group.waitForAll()
        }
        let level = try #require(try await store.level(storeID: "S1", productID: "P1"))
        #expect(level.quantity == 450 && level.version == 300)
        let ledger = try await store.auditLog(AuditQuery(storeID: "S1", productID: "P1", limit: 500))
        #expect(Set(ledger.map(\.version)) == Set(1...300), "one ledger row per version")
        #expect(ledger.allSatisfy { $0.quantityAfter == $0.quantityBefore + $0.delta })
        let sequences = ledger.map(\.sequence)
        #expect(sequences == sequences.sorted(by: >) && Set(sequences).count == 300)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func auditPagesNewestFirstWithFilters(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        for i in 1...5 { _ = try await store.apply(WriteRequest(commands: [try command(delta: Int64(i))], actor: i % 2 == 0 ? "even" : "odd")) }
        let first = try await store.auditLog(AuditQuery(storeID: "S1", limit: 2))
        #expect(first.map(\.delta) == [5, 4])
        let second = try await store.auditLog(AuditQuery(storeID: "S1", beforeSequence: first.last!.sequence, limit: 2))
        #expect(second.map(\.delta) == [3, 2])
        #expect(try await store.auditLog(AuditQuery(actor: "even")).map(\.delta) == [4, 2])
        #expect(try await store.auditLog(AuditQuery(reason: .sale)).isEmpty)
        #expect(try await store.movements(afterSequence: first[0].sequence - 2, limit: 10).map(\.delta) == [4, 5])
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func catalogKeysAlertsAndWebhooks(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        #expect(try await store.upsertStore(Store(id: "S1", name: "Ünïcode 🛒", createdAtMillis: 1, updatedAtMillis: 1)))
        #expect(try await !store.upsertStore(Store(id: "S1", name: "Renamed", createdAtMillis: 1, updatedAtMillis: 2)))
        #expect(try await store.store(id: "S1")?.name == "Renamed")
        #expect(try await store.store(id: "s1") == nil, "identifiers are case-sensitive")
        #expect(try await store.upsertProduct(Product(id: "P1", name: "p", packSize: 6, createdAtMillis: 1, updatedAtMillis: 1)))
        #expect(try await store.product(id: "P1")?.packSize == 6)

        let record = APIKeyRecord(id: "k1", name: "pos", role: .store, stores: ["S1", "S2"], keyHash: String(repeating: "a", count: 64),
                                  createdAtMillis: 5)
        try await store.insertAPIKey(record)
        #expect(try await store.apiKey(hash: record.keyHash) == record)
        #expect(try await store.revokeAPIKey(id: "k1", atMillis: 9))
        #expect(try await !store.revokeAPIKey(id: "k1", atMillis: 10))

        func alert(_ id: String, _ status: AlertStatus = .open) -> Alert {
            Alert(id: id, kind: .lowStock, status: status, storeID: "S1", productID: "P1", quantity: 1, threshold: 2.5, message: "low",
                  openedAtMillis: 1)
        }
        #expect(try await store.recordAlerts(inserted: [alert("a1")], changed: []).count == 1)
        #expect(try await store.recordAlerts(inserted: [alert("a2")], changed: []).isEmpty, "one active alert per condition")
        var resolved = alert("a1", .resolved)
        resolved.resolvedAtMillis = 3
        #expect(try await store.recordAlerts(inserted: [], changed: [resolved]).count == 1)
        #expect(try await store.recordAlerts(inserted: [alert("a3")], changed: []).count == 1, "a new alert once the old one resolved")
        #expect(try await store.activeAlerts(storeID: "S1", productID: "P1").map(\.id) == ["a3"])
        #expect(try await store.alerts(storeID: "S1", productID: nil, kind: nil, status: nil, beforeSequence: nil, limit: 10).map(\.id) == ["a3", "a1"])
        #expect(try await store.eventOutboxBatch(limit: 10).count == 3)

        try await store.insertWebhook(Webhook(id: "w1", url: "http://127.0.0.1:1/x", secret: "s", stores: [], createdAtMillis: 1))
        try await store.enqueueDeliveries(webhookIDs: ["w1"], eventID: "e1", payload: "{}", atMillis: 10)
        try await store.enqueueDeliveries(webhookIDs: ["w1"], eventID: "e1", payload: "{}", atMillis: 10)
        let due = try await store.dueDeliveries(atMillis: 10, limit: 10)
        #expect(due.count == 1, "once per webhook and event")
        try await store.recordAttempt(due[0], atMillis: 10, statusCode: 500, error: nil, delivered: false, nextAttemptAtMillis: 20)
        #expect(try await store.dueDeliveries(atMillis: 15, limit: 10).isEmpty)
        #expect(try await store.webhookAttempts(webhookID: "w1", limit: 10).map(\.statusCode) == [500])
        let thresholds = StockThresholds(dailyRate: 1.5, reorderPoint: 10, orderUpTo: 20, leadTimeDays: 3, anomalyAbove: 9, historyDays: 30,
                                         computedAtMillis: 7)
        try await store.saveThresholds(thresholds, storeID: "S1", productID: "P1")
        #expect(try await store.thresholds(storeID: "S1", productID: "P1") == thresholds)
        try await store.saveReplenishmentOverride(ReplenishmentOverride(packSize: 12), storeID: "S1", productID: "P1")
        #expect(try await store.replenishmentOverride(storeID: "S1", productID: "P1") == ReplenishmentOverride(packSize: 12))
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.computedAtMillis == 0, "an override makes thresholds stale")
        try await store.close()
    }

    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func oneNodeAtATimeHoldsTheOutboxRelayLease() async throws {
        let db = TestDatabase(.mariadb)
        let first = try await Stores.open(db)
        let second = try await Stores.open(db)
        #expect(try await first.holdRelayLease())
        #expect(try await first.holdRelayLease(), "held: still ours")
        #expect(try await !second.holdRelayLease(), "another node relays")
        try await first.close()  // the node goes away: its session, and the lease with it
        var taken = false
        for _ in 0..<50 where !taken {
            taken = try await second.holdRelayLease()
            if !taken { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(taken, "the other node takes over")
        try await second.close()
    }

    /// The inventory states (issue 17) are part of every level the engine answers: the single read, both listings,
    /// and the level a write leaves; a movement keeps them, and the revision orders every change of the row.
    @Test(arguments: Backend.available)
    func everyLevelCarriesItsInventoryStates(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let states = try #require(store as? any ReservationStore & PurchaseOrderStore)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 9)], actor: "t"))
        _ = try await states.createReservation(reservation(quantity: 2), idempotency: nil)
        _ = try await states.createPurchaseOrder(purchaseOrder([("P1", 5)]))
        let write = try await store.apply(WriteRequest(commands: [try command(delta: -1, reason: .sale)], actor: "t"))
        let expected = StockLevel(quantity: 8, version: 2, updatedAtMillis: write.movements[0].recordedAtMillis, reserved: 2, incoming: 5,
                                  stateChanges: 2)
        #expect(write.levels == [expected] && expected.revision == 4 && expected.available == 6)
        #expect(try await store.level(storeID: "S1", productID: "P1") == expected)
        #expect(try await store.levels(storeID: "S1", afterProductID: nil, limit: 10).map(\.level) == [expected])
        #expect(try await store.levels(productID: "P1", afterStoreID: nil, limit: 10).map(\.level) == [expected])
        try await store.close()
    }
}
