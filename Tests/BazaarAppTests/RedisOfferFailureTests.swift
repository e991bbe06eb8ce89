import BazaarCore
import BazaarDomain
@testable import BazaarRedis
import Logging
import RedisClient
import Testing

/// An offer of many levels (a Kafka batch's) against a Redis that fails: the breaker is asked before every script, as
/// it was before every level when they were offered one by one. Nothing listens on 127.0.0.1:1, so every script fails
/// at once; no Redis server is needed.
@Suite struct RedisOfferFailureTests {
    @Test func onceRedisFailsTheRestOfAnOfferIsLeftToTheRepair() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1?timeout_ms=500&connect_timeout_ms=500"))
        let cache = RedisStockCache(redis: redis, nearCapacity: 10_000, nearMaxAgeMillis: 3_600_000, logger: Logger(label: "test"))
        let parts = 4, perPart = RedisStockCache.maxOffersPerScript
        let levels = (0..<(parts * perPart)).map { i in
            (key: StockKey(storeID: "S", productID: "P\(i)"), level: StockLevel(quantity: Int64(i), version: 1, updatedAtMillis: 1))
        }
        await cache.offer(levels)
        // Three failures open the breaker (`failureThreshold: 3`): each failed part's keys are marked dirty, and what
        // is left once it is open is never sent; the node will flush every cached level once Redis answers
        // (`missedUpdates`). The repair that the first failure starts fails too, and counts: one part to three, as
        // the two interleave; the fourth is never sent (every part was, before).
        let dirty = cache.dirtyKeys.withLock { $0.count }
        #expect((1...3).map { $0 * perPart }.contains(dirty), "\(dirty) keys marked dirty")
        let missed = cache.missedUpdates.load(ordering: .relaxed)
        #expect(missed)
        // The near cache holds every level meanwhile.
        #expect(levels.allSatisfy { cache.near.get($0.key) == $0.level })
        await redis.close()
    }

    /// A pair named many times in one offer goes to Redis once, with its newest revision.
    @Test func onlyEachKeysNewestLevelIsSent() {
        let a = StockKey(storeID: "S", productID: "A"), b = StockKey(storeID: "S", productID: "B")
        func level(_ version: Int64) -> StockLevel { StockLevel(quantity: version * 10, version: version, updatedAtMillis: 1) }
        let newest = RedisStockCache.newestOfEachKey([(a, level(1)), (b, level(4)), (a, level(3)), (b, level(2)), (a, level(2))])
        #expect(newest.map(\.key) == [a, b])
        #expect(newest.map(\.level.version) == [3, 4])
    }

    /// A replayed write's invalidation against a Redis that fails: this node's near entry stops answering at once, and
    /// since Redis may keep the older level, every cached level is dropped once Redis answers again (`missedUpdates`).
    @Test func aFailedInvalidationStopsTheNearEntryAndFlushesRedisOnRecovery() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1?timeout_ms=500&connect_timeout_ms=500"))
        let cache = RedisStockCache(redis: redis, nearCapacity: 100, nearMaxAgeMillis: 3_600_000, logger: Logger(label: "test"))
        let key = StockKey(storeID: "S", productID: "P")
        cache.near.offer(key, StockLevel(quantity: 10, version: 1, updatedAtMillis: 1))
        await cache.invalidate(key, minimumVersion: 2, minimumRevision: 2)
        #expect(cache.near.get(key) == nil)
        // The repair it starts clears the flag while it tries to flush, and sets it again when that fails (a CI run
        // read it in between): set, and kept set while Redis does not answer.
        var seen = 0
        for _ in 0..<50 where seen < 3 {
            if cache.missedUpdates.load(ordering: .relaxed) { seen += 1 }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(seen == 3, "missedUpdates stays set while Redis does not answer")
        await redis.close()
    }
}

