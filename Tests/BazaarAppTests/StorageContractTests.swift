import BazaarCore
import BazaarDomain
import BazaarMySQL
import BazaarSQLite
import Foundation
import MySQLClient
import Testing

/// Opens the storage engine of a test database, migrated.
enum Stores {
    /// `concurrentFlushes`: MariaDB group commits in flight (the production default is 1; the concurrency cases use 2,
    /// the shape in which a batch can commit out of the order it started in).
    static func open(_ db: borrowing TestDatabase, concurrentFlushes: Int = 1) async throws -> any StockStore {
        let store: any StockStore
        switch db.backend {
        case .sqlite:
            store = try SQLiteStockStore(path: String(db.url.dropFirst("sqlite://".count)))
        case .mariadb:
            // The primary alone: the contract is read-after-write; replicas have suites of their own.
            var options = MySQLStockStore.Options(primary: try MySQLConfiguration(url: db.url))
            options.concurrentFlushes = concurrentFlushes
            store = MySQLStockStore(options: options)
        }
        try await store.migrate()
        return store
    }

    /// A store of `engine` for the ledger, catalog and alert cases: the engine of `db`, or a new in-memory store
    /// (`db` is then an unused folder).
    static func open(_ engine: Engine, _ db: borrowing TestDatabase) async throws -> any LedgerContractStore {
        guard engine.backend != nil else { return InMemoryLedgerStore() }
        return try await open(db)
    }
}

/// What the ledger, catalog and alert cases use of a store: what `InMemoryLedgerStore` keeps too.
typealias LedgerContractStore = LedgerStore & CatalogStore & AlertStore & OutboxStore & StorageMaintenance

/// The engines of the ledger, catalog and alert cases: the database backends, and the in-memory store that
/// services are tested on (these cases are the proof that it answers as the databases do).
enum Engine: String, Sendable, CustomTestStringConvertible {
    case sqlite, mariadb, memory

    static var available: [Engine] { Backend.available.map { $0 == .sqlite ? .sqlite : .mariadb } + [.memory] }

    /// The database behind the engine; nil in memory.
    var backend: Backend? {
        switch self {
        case .sqlite: .sqlite
        case .mariadb: .mariadb
        case .memory: nil
        }
    }

    var testDescription: String { rawValue }
}

func command(_ store: String = "S1", _ product: String = "P1", delta: Int64, reason: MovementReason? = nil) throws -> MovementCommand {
    try MovementCommand(storeID: store, productID: product, change: .delta(delta), reason: reason ?? (delta > 0 ? .receipt : .sale))
}

/// What every storage engine must do, run against each of them (SQLite always; MariaDB when the test servers run;
/// the ledger, catalog and alert cases also on `InMemoryLedgerStore`).
@Suite struct StorageContractTests {
    @Test(arguments: Engine.available)
    func aWriteUpdatesLevelLedgerAndOutboxTogether(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
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

    @Test(arguments: Engine.available)
    func aRefusedMultiCommandRequestLeavesNothingAndItsNeighboursCommit(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
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

    @Test(arguments: Engine.available)
    func idempotencyKeysReplayAndRefuseAnotherRequest(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
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

    @Test(arguments: Engine.available)
    func requestsAppliedInOrderInOneTransactionEachWithItsOwnOutcome(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
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

    @Test(arguments: Engine.available)
    func concurrentWritesOnOneKeyLoseNoUpdate(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
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

    @Test(arguments: Engine.available)
    func auditPagesNewestFirstWithFilters(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
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

    @Test(arguments: Engine.available)
    func catalogUpsertsAndPagesInIdentifierOrder(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        #expect(try await store.upsertStore(Store(id: "S1", name: "Ünïcode 🛒", createdAtMillis: 1, updatedAtMillis: 1)))
        #expect(try await !store.upsertStore(Store(id: "S1", name: "Renamed", createdAtMillis: 1, updatedAtMillis: 2)))
        #expect(try await store.store(id: "S1")?.name == "Renamed")
        #expect(try await store.store(id: "s1") == nil, "identifiers are case-sensitive")
        #expect(try await store.upsertProduct(Product(id: "P1", name: "p", packSize: 6, createdAtMillis: 1, updatedAtMillis: 1)))
        #expect(try await store.product(id: "P1")?.packSize == 6)
        // An update keeps the creation time and replaces the rest.
        #expect(try await !store.upsertProduct(Product(id: "P1", name: "q", attributesJSON: #"{"a":1}"#, leadTimeDays: 2, reviewPeriodDays: 3,
                                                        packSize: 12, serviceLevel: 0.9, createdAtMillis: 5, updatedAtMillis: 6)))
        #expect(try await store.product(id: "P1") == Product(id: "P1", name: "q", attributesJSON: #"{"a":1}"#, leadTimeDays: 2,
                                                             reviewPeriodDays: 3, packSize: 12, serviceLevel: 0.9, createdAtMillis: 1,
                                                             updatedAtMillis: 6))
        #expect(try await !store.upsertStore(Store(id: "S1", name: "Again", createdAtMillis: 50, updatedAtMillis: 51)))
        #expect(try await store.store(id: "S1") == Store(id: "S1", name: "Again", createdAtMillis: 1, updatedAtMillis: 51))
        // Pages in byte order of the id (every character of the identifier alphabet sorts the same on every engine).
        let ids = ["a", "Z", "_x", "-1", "9", "S1", "S10", "S2", ":k", ".d", "S1.5"]
        for id in ids where id != "S1" { _ = try await store.upsertStore(Store(id: id, name: id, createdAtMillis: 1, updatedAtMillis: 1)) }
        let ordered = ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var paged: [String] = []
        var after: String? = nil
        while true {
            let page = try await store.stores(afterID: after, limit: 3)
            paged += page.map(\.id)
            guard page.count == 3 else { break }
            after = page.last?.id
        }
        #expect(paged == ordered)
        #expect(Set(try await store.allStoreIDs()) == Set(ids))
        #expect(try await store.allProductIDs() == ["P1"])
        #expect(try await store.products(afterID: "P1", limit: 10).isEmpty)
        #expect(try await store.products(afterID: nil, limit: 0).isEmpty)
        try await store.close()
    }

    /// Stock listings page in identifier order after the cursor, on both axes.
    @Test(arguments: Engine.available)
    func levelListingsPageInIdentifierOrder(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        let ids = ["b", "A", "a", "_", "0", "B-2", "B.1"]
        for id in ids {
            _ = try await store.apply(WriteRequest(commands: [try command("S1", id, delta: 1), try command(id, "P1", delta: 2)], actor: "t"))
        }
        let ordered = ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var byStore: [String] = [], byProduct: [String] = []
        var after: String? = nil
        repeat {
            let page = try await store.levels(storeID: "S1", afterProductID: after, limit: 2)
            byStore += page.map(\.productID)
            after = page.count == 2 ? page.last?.productID : nil
        } while after != nil
        repeat {
            let page = try await store.levels(productID: "P1", afterStoreID: after, limit: 4)
            byProduct += page.map(\.storeID)
            after = page.count == 4 ? page.last?.storeID : nil
        } while after != nil
        #expect(byStore == ordered && byProduct == ordered)
        let level = try #require(try await store.levels(storeID: "S1", afterProductID: nil, limit: 1).first)
        #expect(level.level.quantity == 1 && level.level.version == 1 && level.storeID == "S1")
        try await store.close()
    }

    /// A time window is half-open on when the movement happened (`at`), not when it was recorded, and pages by
    /// the cursor like any other filter.
    @Test(arguments: Engine.available)
    func auditTimeWindowsAreHalfOpenOnWhenTheMovementHappened(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        let day: Int64 = 86_400_000, start: Int64 = 1_700_000_000_000
        // Recorded out of order: a till sends yesterday's sale after today's.
        for (delta, at) in [(1, start + 2 * day), (2, start), (3, start + day), (4, start + day + 1), (5, start + 3 * day - 1)] as [(Int64, Int64)] {
            let late = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(delta), reason: .receipt, occurredAtMillis: at)
            _ = try await store.apply(WriteRequest(commands: [late], actor: "t"))
        }
        func deltas(_ query: AuditQuery) async throws -> [Int64] { try await store.auditLog(query).map(\.delta) }
        #expect(try await deltas(AuditQuery(sinceMillis: start + day)) == [5, 4, 3, 1])
        #expect(try await deltas(AuditQuery(untilMillis: start + day)) == [2])
        #expect(try await deltas(AuditQuery(storeID: "S1", sinceMillis: start + day, untilMillis: start + 2 * day)) == [4, 3])
        #expect(try await deltas(AuditQuery(productID: "P1", sinceMillis: start, untilMillis: start)).isEmpty)
        let first = try await store.auditLog(AuditQuery(sinceMillis: start, untilMillis: start + 3 * day, limit: 2))
        #expect(first.map(\.delta) == [5, 4])
        #expect(try await deltas(AuditQuery(sinceMillis: start, untilMillis: start + 3 * day, beforeSequence: first[1].sequence, limit: 10)) == [3, 2, 1])
        #expect(try await deltas(AuditQuery(sinceMillis: start + 4 * day)).isEmpty)
        try await store.close()
    }

    @Test(arguments: Engine.available)
    func oneActiveAlertPerConditionEachChangeWithItsEvent(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        func alert(_ id: String, _ status: AlertStatus = .open) -> Alert {
            Alert(id: id, kind: .lowStock, status: status, storeID: "S1", productID: "P1", quantity: 1, threshold: 2.5, message: "low",
                  openedAtMillis: 1)
        }
        #expect(try await store.recordAlerts(inserted: [alert("a1")], changed: []).count == 1)
        #expect(try await store.recordAlerts(inserted: [alert("a2")], changed: []).isEmpty, "one active alert per condition")
        var resolved = alert("a1", .resolved)
        resolved.resolvedAtMillis = 3
        #expect(try await store.recordAlerts(inserted: [], changed: [resolved]).count == 1)
        #expect(try await store.recordAlerts(inserted: [], changed: [resolved]).isEmpty, "a resolved alert changes no more")
        #expect(try await store.recordAlerts(inserted: [alert("a3")], changed: []).count == 1, "a new alert once the old one resolved")
        #expect(try await store.recordAlerts(inserted: [alert("a1")], changed: []).isEmpty, "an id is used once")
        #expect(try await store.activeAlerts(storeID: "S1", productID: "P1").map(\.id) == ["a3"])
        #expect(try await store.alerts(storeID: "S1", productID: nil, kind: nil, status: nil, beforeSequence: nil, limit: 10).map(\.id) == ["a3", "a1"])
        let a3 = try #require(try await store.alert(id: "a3"))
        #expect(try await store.alerts(storeID: nil, productID: "P1", kind: .lowStock, status: nil, beforeSequence: a3.sequence, limit: 10)
                    .map(\.id) == ["a1"])
        #expect(try await store.alerts(storeID: nil, productID: nil, kind: nil, status: .resolved, beforeSequence: nil, limit: 10).map(\.id) == ["a1"])
        #expect(try await store.alert(id: "a1")?.resolvedAtMillis == 3)
        let events = try await store.eventOutboxBatch(limit: 10)
        #expect(events.map(\.eventID) == ["a1:open", "a1:resolved", "a3:open"])
        #expect(events.allSatisfy { $0.topic == AlertEvent.topic && $0.key == "S1" })
        try await store.deleteEventOutbox(sequences: [events[1].sequence])
        #expect(try await store.eventOutboxBatch(limit: 10).map(\.eventID) == ["a1:open", "a3:open"], "exactly the published events go")
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
        try await store.saveReplenishmentOverride(ReplenishmentOverride(packSize: 12), storeID: "S1", productID: "P1", dueMarker: -77)
        #expect(try await store.replenishmentOverride(storeID: "S1", productID: "P1") == ReplenishmentOverride(packSize: 12))
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.computedAtMillis == -77, "an override marks thresholds due")
        try await store.close()
    }

    /// Fill-rate targets (issue 16) round-trip: a product's, a store override's, the one the stored thresholds were
    /// sized for (read back by the single and the batch writers' readers), and the recompute pass's effective
    /// target, where a store's target replaces the product's whichever kind each is.
    @Test(arguments: Backend.available)
    func fillRateTargetsRoundTrip(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let passStore = try #require(store as? any IntelligencePassStore)
        _ = try await store.upsertStore(Store(id: "S1", name: "s", createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await store.upsertProduct(Product(id: "P1", name: "fill", fillRate: 0.97, createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await store.upsertProduct(Product(id: "P2", name: "cycle", serviceLevel: 0.9, createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await store.upsertProduct(Product(id: "P3", name: "fill", fillRate: 0.8, createdAtMillis: 1, updatedAtMillis: 1))
        #expect(try await store.product(id: "P1")?.fillRate == 0.97)
        #expect(try await store.product(id: "P1")?.target == .fillRate(0.97))
        #expect(try await store.product(id: "P2")?.fillRate == nil)
        // A replaced product without a fill rate loses it: PUT replaces the whole record.
        _ = try await store.upsertProduct(Product(id: "P3", name: "cycle now", createdAtMillis: 1, updatedAtMillis: 2))
        #expect(try await store.product(id: "P3")?.target == .serviceLevel(0.95))
        for p in ["P1", "P2", "P3"] { _ = try await store.apply(WriteRequest(commands: [try command("S1", p, delta: 5)], actor: "t")) }

        try await store.saveReplenishmentOverride(ReplenishmentOverride(serviceLevel: 0.85), storeID: "S1", productID: "P1", dueMarker: -1)
        try await store.saveReplenishmentOverride(ReplenishmentOverride(leadTimeDays: 4, fillRate: 0.99), storeID: "S1", productID: "P2", dueMarker: -1)
        #expect(try await store.replenishmentOverride(storeID: "S1", productID: "P2") == ReplenishmentOverride(leadTimeDays: 4, fillRate: 0.99))
        let candidates = Dictionary(uniqueKeysWithValues: try await passStore.recomputeCandidates(storeID: "S1").map { ($0.productID, $0) })
        #expect(candidates["P1"]?.fillRate == nil && candidates["P1"]?.serviceLevel == 0.85, "the store's service level replaces the product's fill rate")
        #expect(candidates["P2"]?.fillRate == 0.99 && candidates["P2"]?.leadTimeDays == 4, "the store's fill rate replaces the product's service level")
        #expect(candidates["P3"]?.fillRate == nil && candidates["P3"]?.serviceLevel == 0.95)

        var sized = StockThresholds(dailyRate: 2, reorderPoint: 23, orderUpTo: 24, leadTimeDays: 3, anomalyAbove: 9, computedAtMillis: 7,
                                    target: .fillRate(0.95), lowStockLevel: 9)
        try await store.saveThresholds(sized, storeID: "S1", productID: "P1")
        #expect(try await store.thresholds(storeID: "S1", productID: "P1") == sized)
        sized.target = .serviceLevel(0.9)
        sized.computedAtMillis = 8
        sized.lowStockLevel = 8
        #expect(try await passStore.saveThresholds([("P2", sized, nil)], storeID: "S1") == 1)
        #expect(try await store.thresholds(storeID: "S1", productID: "P2")?.target == .serviceLevel(0.9))
        #expect(try await store.thresholds(storeID: "S1", productID: "P2")?.lowStockLevel == 8, "the pass's bulk write keeps the low-stock level")
        sized.target = nil
        sized.lowStockLevel = nil
        try await store.saveThresholds(sized, storeID: "S1", productID: "P3")
        let old = try await store.thresholds(storeID: "S1", productID: "P3")
        #expect(old?.target == nil && old?.lowStockLevel == nil && old?.alertLevel == 23, "rows written before targets and low-stock levels were kept")
        // The overview counts an item at risk against the low-stock level (the reorder point for an older row): P1 and
        // P2 hold 5, at or below their low-stock levels of 9 and 8; P3's 5 is at or below its reorder point of 23.
        let counts = try await store.storeCounts(storeIDs: ["S1"])
        #expect(counts.first?.atRisk == 3, "\(counts)")
        sized.lowStockLevel = 4
        try await store.saveThresholds(sized, storeID: "S1", productID: "P3")
        #expect(try await store.storeCounts(storeIDs: ["S1"]).first?.atRisk == 2, "5 on hand is above a low-stock level of 4")
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
