import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The cache warmer (`CacheWarmer`, `cache.warm_limit`): after start the in-process cache holds storage's levels
/// without a read per pair, and a warm never puts an older level over what a write or an invalidation put in or
/// took out meanwhile (invariant 4), on every engine.
@Suite("Cache warming at start")
struct CacheWarmTests {
    static let logger: Logger = {
        var logger = Logger(label: "warm-test")
        logger.logLevel = .warning
        return logger
    }()

    /// `stores` x `products` pairs in the catalog, each with its own quantity, written in batches of 100.
    static func fill(_ store: any LedgerStore & CatalogStore, stores: Int, products: Int) async throws -> [StockKey] {
        var keys: [StockKey] = []
        for s in 0..<stores { _ = try await store.upsertStore(Store(id: "S\(s)", name: "Store \(s)", createdAtMillis: 1, updatedAtMillis: 1)) }
        for p in 0..<products { _ = try await store.upsertProduct(Product(id: "P\(p)", name: "Product \(p)", createdAtMillis: 1, updatedAtMillis: 1)) }
        for s in 0..<stores { for p in 0..<products { keys.append(StockKey(storeID: "S\(s)", productID: "P\(p)")) } }
        for start in stride(from: 0, to: keys.count, by: 100) {
            let commands = try keys[start..<min(start + 100, keys.count)].enumerated().map { i, key in
                try MovementCommand(storeID: key.storeID, productID: key.productID, change: .delta(Int64(start + i + 1)), reason: .receipt)
            }
            _ = try await store.apply(WriteRequest(commands: commands, actor: "fill"))
        }
        return keys
    }

    /// Every level the cache answers is storage's level of the key, as the primary holds it now.
    static func expectCacheMatchesStorage(_ cache: InProcessStockCache, _ store: any StockStore, _ keys: [StockKey],
                                          sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
        let scan = try #require(store as? any LevelScanStore)
        let rows = try await scan.levelsInKeyOrder(after: nil, limit: keys.count + 1)
        let stored = Dictionary(uniqueKeysWithValues: rows.map { (StockKey(storeID: $0.storeID, productID: $0.productID), $0.level) })
        #expect(stored.count == keys.count, sourceLocation: sourceLocation)
        var answered = 0
        for key in keys {
            guard let cached = cache.get(key) else { continue }
            answered += 1
            let level = try #require(stored[key], sourceLocation: sourceLocation)
            #expect(cached.quantity == level.quantity && cached.revision == level.revision,
                    "\(key.storeID)/\(key.productID): cache \(cached.quantity) at revision \(cached.revision), storage \(level.quantity) at \(level.revision)",
                    sourceLocation: sourceLocation)
        }
        return answered
    }

    // MARK: (1) after start, levels are answered by the cache

    /// Before: the cache started empty, so the first read of every pair read storage (on a chain, nearly every read).
    /// On each engine, without Redis (the configuration the warm is for, whatever this run's switches).
    @Test(.ownConsistencyTokens, arguments: Backend.available)
    func afterStartTheCacheAnswersStoragesLevelsWithoutAStorageRead(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let writer = try await Stores.open(db)
        let keys = try await Self.fill(writer, stores: 3, products: 40)
        try await writer.close()

        var configuration = Harness.configuration(db.url)
        configuration.redisURL = nil
        let system = try await BazaarSystem.start(configuration: configuration, logger: Self.logger)
        try await system.application().test(.router) { client in
            let warmer = try #require(system.cacheWarmer)
            #expect(try await eventually { warmer.progress.finished }, "the warm ends")
            #expect(warmer.progress.warmed == keys.count)
            let cache = try #require(system.stock.cache as? InProcessStockCache)
            #expect(try await Self.expectCacheMatchesStorage(cache, system.store, keys) == keys.count, "every level is cached")
            // The HTTP read answers from the cache without reading storage: storage changed behind the node's back
            // (a direct write, which offers the cache nothing) and the answer is still the warmed level.
            for key in keys.prefix(10) {
                let warmed = try #require(cache.get(key))
                _ = try await system.store.apply(WriteRequest(commands: [
                    try MovementCommand(storeID: key.storeID, productID: key.productID, change: .delta(1000), reason: .receipt),
                ], actor: "behind-the-cache"))
                let reply = try await client.call(.get, "/get-stock/\(key.storeID)/\(key.productID)")
                #expect(reply.int("quantity") == warmed.quantity, "answered from the cache")
            }
        }
        try await system.store.close()
    }

    /// With Redis the near cache answers a level for `cache.near_max_age_ms` only, and a warm would publish a
    /// coherence message per level to every node: nothing is warmed.
    @Test func withRedisNothingIsWarmed() async throws {
        guard let redis = Backend.redisURL else { return }
        let db = TestDatabase(.sqlite)
        var configuration = Harness.configuration(db.url)
        configuration.redisURL = redis
        let system = try await BazaarSystem.start(configuration: configuration, logger: Self.logger)
        #expect(system.cacheWarmer == nil)
        try await system.store.close()
    }

    // MARK: (2) the race: writes and invalidations while the warm runs

    /// A source that, after reading each page and before the warmer puts it in, changes every pair of the page:
    /// even ones through this node's write path (the new level offered to the cache, as `StockService` does), odd
    /// ones as another node would (storage written, then the coherence invalidation). The adversary of the warm: a
    /// warm that filled its page as plain sets would put every pair back one write behind.
    struct WritingBetweenReadAndFill: LevelScanStore {
        let store: any StockStore & LevelScanStore
        let cache: InProcessStockCache

        func levelsInKeyOrder(after: StockKey?, limit: Int) async throws -> [StockRow] {
            let rows = try await store.levelsInKeyOrder(after: after, limit: limit)
            for (i, row) in rows.enumerated() {
                let key = StockKey(storeID: row.storeID, productID: row.productID)
                let receipt = try await store.apply(WriteRequest(commands: [
                    try MovementCommand(storeID: key.storeID, productID: key.productID, change: .delta(1), reason: .receipt),
                ], actor: "racer"))
                let level = try #require(receipt.levels.first)
                if i % 2 == 0 {
                    cache.offer(key, level)
                } else {
                    // Through the protocol, as the coherence consumer calls it (in an async context the concrete call
                    // would pick the protocol extension's async no-op).
                    await (cache as any StockCache).invalidate(key, minimumVersion: level.version, minimumRevision: level.revision)
                }
            }
            return rows
        }
    }

    @Test(arguments: Backend.available)
    func aWarmNeverPutsBackALevelOlderThanAWriteOrAnInvalidationMadeWhileItsPageWasInHand(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let scan = try #require(store as? any StockStore & LevelScanStore)
        let keys = try await Self.fill(store, stores: 4, products: 30)
        let cache = InProcessStockCache(capacity: 10_000, shardCount: 4)
        let warmer = CacheWarmer(source: WritingBetweenReadAndFill(store: scan, cache: cache), cache: cache, limit: 10_000, pageSize: 16,
                                 logger: Self.logger)
        await warmer.warm()
        #expect(warmer.progress.read == keys.count, "the walk read the whole table")
        let answered = try await Self.expectCacheMatchesStorage(cache, store, keys)
        #expect(answered >= keys.count / 2, "this node's writes are cached (\(answered) of \(keys.count))")
        try await store.close()
    }

    /// The same with real concurrency: writers on the same pairs (through the cache, as `StockService`) while a warm
    /// of small pages runs; afterwards every cached level is storage's.
    @Test(arguments: Backend.available)
    func concurrentWritesDuringAWarmLeaveEveryCachedLevelEqualToStorage(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let scan = try #require(store as? any StockStore & LevelScanStore)
        let keys = try await Self.fill(store, stores: 4, products: 50)
        let cache = InProcessStockCache(capacity: 10_000, shardCount: 4)
        let warmer = CacheWarmer(source: scan, cache: cache, limit: 10_000, pageSize: 8, logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await warmer.warm() }
            for w in 0..<4 {
                group.addTask {
                    for i in 0..<150 {
                        let key = keys[(i * 7 + w * 13) % keys.count]
                        let receipt = try await store.apply(WriteRequest(commands: [
                            try MovementCommand(storeID: key.storeID, productID: key.productID, change: .delta(1), reason: .receipt),
                        ], actor: "writer\(w)"))
                        cache.offer(key, try #require(receipt.levels.first))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await Self.expectCacheMatchesStorage(cache, store, keys) == keys.count, "every pair is cached")
        try await store.close()
    }

    // MARK: (3) shutdown mid-warm

    /// A source whose second page never comes (a stuck read): the node's shutdown must not wait for it.
    final class StuckAfterOnePage: LevelScanStore {
        let pages = Mutex(0)

        func levelsInKeyOrder(after: StockKey?, limit: Int) async throws -> [StockRow] {
            let page = pages.withLock { $0 += 1; return $0 }
            if page > 1 { try await Task.sleep(for: .seconds(3600)) }
            return (0..<limit).map { i in
                StockRow(storeID: "S\(page)", productID: String(format: "P%06d", i), level: StockLevel(quantity: 1, version: 1, updatedAtMillis: 1))
            }
        }
    }

    /// Before (a walk without cancellation): the group waited for the page, an hour. The time limit is a hang check.
    @Test(.timeLimit(.minutes(1)))
    func aShutdownDuringAWarmDoesNotWaitForIt() async throws {
        let cache = InProcessStockCache(capacity: 100_000)
        let warmer = CacheWarmer(source: StuckAfterOnePage(), cache: cache, limit: 100_000, pageSize: 100, logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [warmer], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(try await eventually { warmer.progress.read == 100 }, "the first page is in")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(warmer.progress.finished)
        #expect(warmer.progress.warmed == 100)
    }

    /// A source over a real table that asks for the shutdown itself once its first page is read.
    final class ShutdownAfterFirstPage: LevelScanStore {
        let store: any LevelScanStore
        let group = Mutex<ServiceGroup?>(nil)

        init(store: any LevelScanStore) { self.store = store }

        func levelsInKeyOrder(after: StockKey?, limit: Int) async throws -> [StockRow] {
            let rows = try await store.levelsInKeyOrder(after: after, limit: limit)
            if after == nil, let group = group.withLock({ $0 }) { await group.triggerGracefulShutdown() }
            return rows
        }
    }

    @Test(.timeLimit(.minutes(2)), arguments: Backend.available)
    func aShutdownDuringTheWarmOfALargeTableStopsIt(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let keys = try await Self.fill(store, stores: 20, products: 500)
        let cache = InProcessStockCache(capacity: 100_000)
        let source = ShutdownAfterFirstPage(store: try #require(store as? any LevelScanStore))
        let warmer = CacheWarmer(source: source, cache: cache, limit: 100_000, pageSize: 10, logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [warmer], logger: Self.logger))
        source.group.withLock { $0 = group }
        try await group.run()
        #expect(warmer.progress.finished)
        #expect(warmer.progress.read < keys.count, "the walk stopped at the shutdown (read \(warmer.progress.read) of \(keys.count))")
        try await store.close()
    }

    // MARK: (4) the cap

    @Test(arguments: Backend.available)
    func aCapSmallerThanTheTableWarmsExactlyThatMany(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let keys = try await Self.fill(store, stores: 3, products: 40)
        let cache = InProcessStockCache(capacity: 10_000, shardCount: 4)
        let warmer = CacheWarmer(source: try #require(store as? any LevelScanStore), cache: cache, limit: 37, pageSize: 10, logger: Self.logger)
        await warmer.warm()
        #expect(warmer.progress.warmed == 37)
        #expect(cache.count == 37)
        #expect(try await Self.expectCacheMatchesStorage(cache, store, keys) == 37)
        try await store.close()
    }

    /// Through the configuration: `cache.warm_limit` caps the node's warm, and 0 turns it off.
    @Test func theConfigurationKeyCapsOrTurnsOffTheWarm() async throws {
        let db = TestDatabase()
        let writer = try await Stores.open(db)
        _ = try await Self.fill(writer, stores: 2, products: 30)
        try await writer.close()
        for (limit, expected) in [(25, 25), (0, nil)] as [(Int, Int?)] {
            var configuration = Harness.configuration(db.url)
            configuration.redisURL = nil
            configuration.cacheWarmLimit = limit
            let system = try await BazaarSystem.start(configuration: configuration, logger: Self.logger)
            if let expected {
                let warmer = try #require(system.cacheWarmer)
                await warmer.warm()
                #expect(warmer.progress.warmed == expected)
                #expect((system.stock.cache as? InProcessStockCache)?.count == expected)
            } else {
                #expect(system.cacheWarmer == nil)
            }
            try await system.store.close()
        }
    }

    // MARK: the cache's own rules for a warm page

    @Test func aWarmPageIsRefusedWhereTheCacheLearnedOrForgotSomethingSinceItWasRead() {
        let cache = InProcessStockCache(capacity: 4, shardCount: 1)
        func row(_ product: String, _ version: Int64) -> StockRow {
            StockRow(storeID: "S", productID: product, level: StockLevel(quantity: version, version: version, updatedAtMillis: version))
        }
        // A write after the read: its newer level stays.
        var ticket = cache.warmTicket()
        cache.offer(StockKey(storeID: "S", productID: "A"), StockLevel(quantity: 6, version: 6, updatedAtMillis: 6))
        #expect(cache.warm([row("A", 5)], ticket: ticket) == 0)
        #expect(cache.get(StockKey(storeID: "S", productID: "A"))?.version == 6)
        // An invalidation of a key the cache did not hold: the page may predate that write.
        ticket = cache.warmTicket()
        cache.invalidate(StockKey(storeID: "S", productID: "B"), minimumVersion: 3, minimumRevision: 3)
        #expect(cache.warm([row("B", 2)], ticket: ticket) == 0)
        #expect(cache.get(StockKey(storeID: "S", productID: "B")) == nil)
        // A clear (Redis missed updates): nothing read before it goes in.
        ticket = cache.warmTicket()
        cache.clear()
        #expect(cache.warm([row("C", 1)], ticket: ticket) == 0)
        // A full cache: a warm evicts nothing.
        ticket = cache.warmTicket()
        #expect(cache.warm([row("D", 1), row("E", 1), row("F", 1), row("G", 1)], ticket: ticket) == 4)
        #expect(cache.warm([row("H", 1)], ticket: cache.warmTicket()) == 0)
        #expect(cache.get(StockKey(storeID: "S", productID: "D")) != nil && cache.get(StockKey(storeID: "S", productID: "H")) == nil)
    }
}
