import BazaarCore
import BazaarDomain
import Synchronization
import Testing
import StockDoubles

/// A cache that keeps what it is offered (the in-process cache's rule: newer revisions only) and records every offer.
final class RecordingCache: StockCache {
    let cache = InProcessStockCache(capacity: 10_000, shardCount: 4)
    private let offered = Mutex<[(StockKey, StockLevel)]>([])
    private let waits = Mutex(0)

    var offers: [(key: StockKey, level: StockLevel)] { offered.withLock { $0.map { (key: $0.0, level: $0.1) } } }
    /// The offers made (a shared cache's round trips, which its writers wait for), however many levels each held.
    var offerCalls: Int { waits.withLock { $0 } }

    func get(_ key: StockKey) async -> StockLevel? { cache.get(key) }
    func floor(_ key: StockKey) -> StockLevel? { cache.floor(key) }
    func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) async {
        cache.invalidate(key, minimumVersion: minimumVersion, minimumRevision: minimumRevision)
    }
    func dropAllLevels(sharedToo: Bool) async { cache.clear() }
    func offer(_ key: StockKey, _ level: StockLevel) async { await offer([(key, level)]) }
    func offer(_ levels: [(key: StockKey, level: StockLevel)]) async {
        waits.withLock { $0 += 1 }
        offered.withLock { $0.append(contentsOf: levels.map { ($0.key, $0.level) }) }
        for (key, level) in levels { cache.offer(key, level) }
    }
}

/// `StockService`'s write path on the in-memory store: no database, the engines' `LedgerWrite` rules.
@Suite("Stock service on the in-memory store") struct StockServiceInMemoryTests {
    struct Fixture {
        let memory: InMemoryLedgerStore
        let cache = RecordingCache()
        let service: StockService

        /// What a read of storage answers instead of the store's level, when set: a replica that trails.
        let replica = TrailingReplica()
        /// The size of every ordered transaction the service asked of the store.
        let transactions = TransactionLog()

        init(stores: [String] = ["S1", "S2"], products: [String] = ["P1", "P2"],
             refuses: @escaping @Sendable (WriteRequest) -> Bool = { _ in false },
             unreachable: @escaping @Sendable (WriteRequest) -> Bool = { _ in false },
             productLookupAway: @escaping @Sendable (String) -> Bool = { _ in false }) async throws {
            memory = InMemoryLedgerStore()
            for id in stores { _ = try await memory.upsertStore(Store(id: id, name: id, createdAtMillis: 1, updatedAtMillis: 1)) }
            for id in products { _ = try await memory.upsertProduct(Product(id: id, name: id, createdAtMillis: 1, updatedAtMillis: 1)) }
            var store = InMemoryStockStore(memory, refuses: refuses, unreachable: unreachable, replica: replica)
            store.transactions = transactions
            store.productLookupAway = productLookupAway
            service = StockService(store: store, cache: cache, catalog: CatalogIndex(store: store), outboxSignal: OutboxSignal())
        }

        /// Invariant 1 for one pair: level = sum of its ledger, version = its rows, versions 1...n each once.
        func expectLevelIsItsLedger(_ storeID: String, _ productID: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let level = try await memory.level(storeID: storeID, productID: productID) ?? .empty
            let totals = try await memory.ledgerTotals(storeID: storeID, productID: productID)
            #expect(level.quantity == totals.sum && level.version == totals.rows, "\(storeID)/\(productID)", sourceLocation: sourceLocation)
            let ledger = try await memory.auditLog(AuditQuery(storeID: storeID, productID: productID, limit: 100_000))
            #expect(ledger.map(\.version) == Array((0..<level.version).reversed()).map { $0 + 1 }, sourceLocation: sourceLocation)
            #expect(ledger.allSatisfy { $0.quantityAfter == $0.quantityBefore + $0.delta }, sourceLocation: sourceLocation)
            // Each row starts where the one before it ended.
            for (newer, older) in zip(ledger, ledger.dropFirst()) {
                #expect(newer.quantityBefore == older.quantityAfter, sourceLocation: sourceLocation)
            }
        }
    }

    static func command(_ store: String = "S1", _ product: String = "P1", delta: Int64, reason: MovementReason? = nil,
                        reference: String? = nil) throws -> MovementCommand {
        try MovementCommand(storeID: store, productID: product, change: .delta(delta), reason: reason ?? (delta > 0 ? .receipt : .adjustment),
                            reference: reference)
    }

    @Test func aRetryWithTheSameKeyReplaysTheFirstAnswerAndChangesNothing() async throws {
        let f = try await Fixture()
        let commands = [try Self.command(delta: 10, reference: "PO-1")]
        let first = try await f.service.write(commands, actor: "till", idempotencyKey: "retry-1", scope: "key-a")
        #expect(!first.replayed)
        let offersAfterFirst = f.cache.offers.count
        let depthAfterFirst = try await f.memory.outboxDepth()
        let retry = try await f.service.write(commands, actor: "till", idempotencyKey: "retry-1", scope: "key-a")
        #expect(retry.replayed && retry.movements == first.movements, "the first answer, movement ids and sequences included")
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 10)
        #expect(try await f.memory.ledgerTotals(storeID: "S1", productID: "P1").rows == 1)
        #expect(try await f.memory.outboxDepth() == depthAfterFirst, "a replay publishes nothing")
        #expect(f.cache.offers.count == offersAfterFirst, "a replay offers the cache nothing (it has no levels)")
        // Retries racing each other: one application, every answer the same movements.
        let raced = try await withThrowingTaskGroup(of: WriteReceipt.self) { group in
            for _ in 0..<40 {
                group.addTask { try await f.service.write([try Self.command(delta: 3)], actor: "till", idempotencyKey: "race", scope: "key-a") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(raced.filter { !$0.replayed }.count == 1)
        #expect(Set(raced.map { $0.movements.map(\.movementID) }).count == 1)
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 13)
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    @Test func anotherRequestWithTheSameKeyIsRefusedAndWritesNothing() async throws {
        let f = try await Fixture()
        _ = try await f.service.write([try Self.command(delta: 10, reference: "PO-1")], actor: "till", idempotencyKey: "k", scope: "key-a")
        // Each differs from the first in one field the fingerprint covers.
        let others: [[MovementCommand]] = [
            [try Self.command(delta: 11, reference: "PO-1")],
            [try Self.command(delta: 10, reference: "PO-2")],
            [try Self.command(delta: 10)],
            [try Self.command("S2", "P1", delta: 10, reference: "PO-1")],
            [try Self.command(delta: 10, reason: .return, reference: "PO-1")],
            [try Self.command(delta: 10, reference: "PO-1"), try Self.command(delta: 10, reference: "PO-1")],
        ]
        for commands in others {
            await #expect(throws: DomainError.idempotencyKeyReused(key: "k")) {
                try await f.service.write(commands, actor: "till", idempotencyKey: "k", scope: "key-a")
            }
        }
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 10)
        #expect(try await f.memory.level(storeID: "S2", productID: "P1") == nil)
        // The key is scoped to its API key: another one's is another namespace.
        #expect(try await !f.service.write(others[0], actor: "till", idempotencyKey: "k", scope: "key-b").replayed)
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 21)
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    @Test func aBatchIsAllOrNothing() async throws {
        let f = try await Fixture()
        _ = try await f.service.write([try Self.command("S1", "P2", delta: 5)], actor: "t", scope: "k")
        let offers = f.cache.offers.count
        let depth = try await f.memory.outboxDepth()
        // The last command cannot be covered: the first ones, already applied inside the transaction, are undone.
        await #expect(throws: DomainError.insufficientStock(storeID: "S1", productID: "P2", available: 5, requested: 6)) {
            try await f.service.write([try Self.command("S1", "P1", delta: 4), try Self.command("S2", "P2", delta: 7),
                                       try Self.command("S1", "P2", delta: -6)], actor: "t", idempotencyKey: "batch", scope: "k")
        }
        // One pair touched twice in a batch: the second command sees the first (+5, then -7 of 5).
        await #expect(throws: DomainError.insufficientStock(storeID: "S2", productID: "P1", available: 5, requested: 7)) {
            try await f.service.write([try Self.command("S2", "P1", delta: 5), try Self.command("S2", "P1", delta: -7)], actor: "t", scope: "k")
        }
        // A transfer that cannot be covered, and a batch naming a store outside the catalog.
        await #expect(throws: DomainError.self) {
            try await f.service.transfer(from: "S1", to: "S2", productID: "P2", quantity: 6, reference: nil, actor: "t", idempotencyKey: nil, scope: "k")
        }
        await #expect(throws: DomainError.unknownStore("S9")) {
            try await f.service.write([try Self.command("S1", "P1", delta: 1), try Self.command("S9", "P1", delta: 1)], actor: "t", scope: "k")
        }
        for (store, product) in [("S1", "P1"), ("S2", "P2"), ("S2", "P1")] {
            #expect(try await f.memory.level(storeID: store, productID: product) == nil, "\(store)/\(product) untouched")
            #expect(try await f.memory.ledgerTotals(storeID: store, productID: product).rows == 0)
        }
        #expect(try await f.memory.level(storeID: "S1", productID: "P2")?.quantity == 5)
        #expect(try await f.memory.outboxDepth() == depth && f.cache.offers.count == offers, "nothing published, nothing cached")
        // The refused request's key was not remembered: the same key with a request that fits applies.
        let fits = try await f.service.write([try Self.command("S1", "P1", delta: 4), try Self.command("S2", "P2", delta: 7),
                                              try Self.command("S1", "P2", delta: -5)], actor: "t", idempotencyKey: "batch", scope: "k")
        #expect(!fits.replayed && fits.movements.map(\.quantityAfter) == [4, 7, 0])
        #expect(Set(fits.movements.map(\.sequence)).count == 3)
    }

    /// Writers on few pairs, with batches across pairs and sales that may be refused: no update is lost, every
    /// level is the sum of its ledger, and the cache ends at each pair's newest level.
    @Test func concurrentWritersNeverLoseAnUpdate() async throws {
        let stores = ["S1", "S2", "S3"], products = ["P1", "P2", "P3"]
        let f = try await Fixture(stores: stores, products: products)
        let accepted = Locked<[StockKey: Int64]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<600 {
                group.addTask {
                    let a = (stores[i % 3], products[(i / 3) % 3]), b = (stores[(i + 1) % 3], products[(i / 7) % 3])
                    let commands: [MovementCommand]
                    switch i % 4 {
                    case 0: commands = [try Self.command(a.0, a.1, delta: 3)]
                    case 1: commands = [try Self.command(a.0, a.1, delta: -2)]  // refused when the pair holds less than 2
                    case 2: commands = [try Self.command(a.0, a.1, delta: 2), try Self.command(b.0, b.1, delta: -1)]
                    default: commands = [try Self.command(a.0, a.1, delta: 1, reason: .return), try Self.command(b.0, b.1, delta: 4)]
                    }
                    do {
                        let receipt = try await f.service.write(commands, actor: "w\(i)", scope: "k")
                        accepted.withLock { totals in
                            for m in receipt.movements { totals[StockKey(storeID: m.storeID, productID: m.productID), default: 0] += m.delta }
                        }
                    } catch DomainError.insufficientStock {
                        // A refused write changes nothing; its neighbours go on.
                    }
                }
            }
            try await group.waitForAll()
        }
        let totals = accepted.withLock { $0 }
        #expect(!totals.isEmpty)
        var rows: Int64 = 0
        for store in stores {
            for product in products {
                let key = StockKey(storeID: store, productID: product)
                let level = try await f.memory.level(storeID: store, productID: product) ?? .empty
                #expect(level.quantity == totals[key, default: 0], "every accepted write counted, no lost update: \(store)/\(product)")
                #expect(level.quantity >= 0)
                try await f.expectLevelIsItsLedger(store, product)
                if level.version > 0 { #expect(await f.cache.get(key) == level, "the cache holds the newest level of \(store)/\(product)") }
                rows += level.version
            }
        }
        let ledger = try await f.memory.movements(afterSequence: 0, limit: 100_000)
        #expect(Int64(ledger.count) == rows && ledger.map(\.sequence) == Array(1...Int64(ledger.count)), "one sequence per row, in order")
        #expect(Set(ledger.map(\.movementID)).count == ledger.count)
        #expect(ledger.map(\.recordedAtMillis) == ledger.map(\.recordedAtMillis).sorted(), "commit times never go back along the ledger")
        #expect(try await f.memory.outboxDepth() == ledger.count, "one event per movement")
    }

    /// A commit's levels reach the cache in one offer: with Redis each offer is a round trip the writer waits for, and
    /// a Kafka batch's thousands of movements were offered one after the other, a round trip each (issue 15: 4,000
    /// movements/s ingested in the production shape, 8,800 once they went together).
    @Test func aCommitsLevelsReachTheCacheInOneOffer() async throws {
        let f = try await Fixture()
        let writes = try (0..<50).map { i in
            (commands: [try Self.command(i % 2 == 0 ? "S1" : "S2", "P1", delta: Int64(i + 1))], idempotencyKey: Optional("kafka-\(i)"))
        }
        let results = await f.service.writeInOrder(writes, actor: "kafka", scope: "commands")
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
        #expect(f.cache.offerCalls == 1, "the batch's 50 levels in one offer")
        var expected: [Int64] = [], totals: [Int64] = [0, 0]
        for i in 0..<50 {
            totals[i % 2] += Int64(i + 1)
            expected.append(totals[i % 2])
        }
        #expect(f.cache.offers.map(\.level.quantity) == expected, "each write's level, in commit order")
        let calls = f.cache.offerCalls
        _ = try await f.service.write([try Self.command("S1", "P2", delta: 1), try Self.command("S2", "P2", delta: 2)], actor: "t", scope: "k")
        #expect(f.cache.offerCalls == calls + 1, "a request's movements in one offer")
        // A replayed batch offers nothing.
        _ = await f.service.writeInOrder(writes, actor: "kafka", scope: "commands")
        #expect(f.cache.offerCalls == calls + 1)
    }

    @Test func theCacheIsOfferedTheNewLevelOfEveryPairWritten() async throws {
        let f = try await Fixture()
        let receipt = try await f.service.write([try Self.command("S1", "P1", delta: 6), try Self.command("S2", "P2", delta: 9),
                                                 try Self.command("S1", "P1", delta: -2)], actor: "t", scope: "k")
        let offers = f.cache.offers
        #expect(offers.map(\.key) == receipt.movements.map { StockKey(storeID: $0.storeID, productID: $0.productID) })
        #expect(offers.map(\.level.quantity) == [6, 9, 4] && offers.map(\.level.version) == [1, 1, 2], "each movement's level, in order")
        let stored = try #require(try await f.memory.level(storeID: "S1", productID: "P1"))
        #expect(offers[2].level == stored, "the level as stored, inventory states and time included")
        // The next read answers from the cache, at the stored level.
        #expect(try await f.service.level(storeID: "S1", productID: "P1") == stored)
        #expect(f.cache.offers.count == 3, "a cache hit offers nothing")
        // A pair never written reads as empty (from storage), and is offered as such.
        #expect(try await f.service.level(storeID: "S2", productID: "P1") == .empty)
        #expect(f.cache.offers.last?.level == .empty)
    }

    @Test func inOrderWritesKeepTheirOrderAndEachItsOwnOutcome() async throws {
        let f = try await Fixture()
        let outcomes = await f.service.writeInOrder([
            (commands: [try Self.command(delta: 5)], idempotencyKey: "c0"),
            (commands: [try Self.command(delta: -9, reason: .damage)], idempotencyKey: "c1"),  // refused: 5 on hand
            (commands: [try Self.command(delta: -5)], idempotencyKey: "c2"),
            (commands: [try Self.command("S9", "P1", delta: 1)], idempotencyKey: "c3"),  // outside the catalog
            (commands: [try Self.command(delta: 5)], idempotencyKey: "c0"),  // a replay of the first
        ], actor: "kafka", scope: IdempotencyScope.commands(topic: "t"))
        #expect(try outcomes[0].get().movements[0].quantityAfter == 5)
        #expect(throws: DomainError.insufficientStock(storeID: "S1", productID: "P1", available: 5, requested: 9)) { try outcomes[1].get() }
        #expect(try outcomes[2].get().movements[0].quantityAfter == 0)
        #expect(throws: DomainError.unknownStore("S9")) { try outcomes[3].get() }
        #expect(try outcomes[4].get().replayed && outcomes[4].get().movements == outcomes[0].get().movements)
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    /// A transaction the database refuses as a whole (not a `DomainError`) is retried write by write, so only the
    /// culprit fails and its neighbours commit, in order.
    @Test func oneWriteTheDatabaseRefusesDoesNotFailItsNeighbours() async throws {
        let f = try await Fixture(refuses: { request in request.commands.contains { $0.reference == "poison" } })
        let outcomes = await f.service.writeInOrder([
            (commands: [try Self.command(delta: 5)], idempotencyKey: "a"),
            (commands: [try Self.command(delta: 1, reference: "poison")], idempotencyKey: "b"),
            (commands: [try Self.command(delta: -2)], idempotencyKey: "c"),
        ], actor: "kafka", scope: "s")
        #expect(try outcomes[0].get().movements[0].quantityAfter == 5)
        #expect(throws: InMemoryStockStore.DatabaseRefusal.self) { try outcomes[1].get() }
        #expect(try outcomes[2].get().movements[0].quantityAfter == 3)
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 3)
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    /// The database goes away while the writes of a refused transaction are retried one by one: the writes after the
    /// one it failed are not tried (they wait with it for the retry), so none is applied before it.
    @Test func anOutageDuringTheOneByOneRetryHoldsBackTheWritesAfterIt() async throws {
        let f = try await Fixture(refuses: { request in request.commands.contains { $0.reference == "poison" } },
                                  unreachable: { request in request.commands.contains { $0.reference == "outage" } })
        let outcomes = await f.service.writeInOrder([
            (commands: [try Self.command(delta: 5)], idempotencyKey: "a"),
            (commands: [try Self.command(delta: 1, reference: "poison")], idempotencyKey: "b"),
            (commands: [try Self.command(delta: -2, reference: "outage")], idempotencyKey: "c"),
            (commands: [try Self.command(delta: -3)], idempotencyKey: "d"),
        ], actor: "kafka", scope: "s")
        #expect(try outcomes[0].get().movements[0].quantityAfter == 5)
        #expect(throws: InMemoryStockStore.DatabaseRefusal.self) { try outcomes[1].get() }
        #expect(throws: StorageUnavailable.self) { try outcomes[2].get() }
        #expect(throws: StorageUnavailable.self, "held back: applied now, it would come before c's retry") { try outcomes[3].get() }
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 5)
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    /// A run longer than `maxWritesPerTransaction` (a Kafka poll of one store) goes in transactions of at most that
    /// many, one after the other, in its order; each one's levels reach the cache when it commits.
    @Test func aLongOrderedRunIsWrittenInTransactionsOfAtMostTheLimitInItsOrder() async throws {
        let f = try await Fixture()
        let limit = StockService.maxWritesPerTransaction
        let writes = try (0..<(2 * limit + 1)).map { (commands: [try Self.command(delta: 1)], idempotencyKey: Optional("k\($0)")) }
        let outcomes = await f.service.writeInOrder(writes, actor: "kafka", scope: "s")
        #expect(f.transactions.sizes.withLock { $0 } == [limit, limit, 1])
        #expect(try outcomes.map { try $0.get().movements[0].quantityAfter } == Array(1...Int64(writes.count)), "applied in their order")
        #expect(f.cache.offerCalls == 3, "each transaction's levels offered as it commits, not all with the last")
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    /// Once one of those transactions finds the database away, the ones after it are not tried: applied now, they
    /// would come before the failed one's retry.
    @Test func anOutageInOneTransactionHoldsBackTheTransactionsAfterIt() async throws {
        let limit = StockService.maxWritesPerTransaction
        let f = try await Fixture(unreachable: { request in request.commands.contains { $0.reference == "outage" } })
        let writes = try (0..<(2 * limit + 1)).map { i in
            (commands: [try Self.command(delta: 1, reference: i == limit + 7 ? "outage" : nil)], idempotencyKey: Optional("k\(i)"))
        }
        let outcomes = await f.service.writeInOrder(writes, actor: "kafka", scope: "s")
        #expect(f.transactions.sizes.withLock { $0 } == [limit, limit], "the third was not tried")
        #expect(f.cache.offerCalls == 1, "the first transaction's levels offered, none of those held back")
        #expect(outcomes.prefix(limit).allSatisfy { (try? $0.get()) != nil })
        #expect(outcomes.dropFirst(limit).allSatisfy { if case .failure(let error) = $0 { error is StorageUnavailable } else { false } })
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == Int64(limit))
        try await f.expectLevelIsItsLedger("S1", "P1")
    }

    /// A write whose check finds the database away (a product the catalog index does not hold yet, looked up) holds
    /// back the writes after it as an outage in a transaction does: written now, a later one would come before the
    /// retry of the earlier one. Seen to fail without it: the third write was applied (quantity 6).
    @Test func aCheckThatFindsTheDatabaseAwayHoldsBackTheWritesAfterIt() async throws {
        let f = try await Fixture(products: ["P1", "P9"], productLookupAway: { $0 == "P9" })
        let outcomes = await f.service.writeInOrder([
            (commands: [try Self.command(delta: 5)], idempotencyKey: "a"),
            (commands: [try Self.command("S1", "P9", delta: 1)], idempotencyKey: "b"),
            (commands: [try Self.command(delta: 1)], idempotencyKey: "c"),
        ], actor: "kafka", scope: "s")
        #expect(try outcomes[0].get().movements[0].quantityAfter == 5)
        #expect(throws: StorageUnavailable.self) { try outcomes[1].get() }
        #expect(throws: StorageUnavailable.self, "held back: applied now, it would come before b's retry") { try outcomes[2].get() }
        #expect(try await f.memory.level(storeID: "S1", productID: "P1")?.quantity == 5)
    }
}
