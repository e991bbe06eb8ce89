import BazaarCore
import BazaarDomain
import BazaarRedis
import Foundation
import Logging
import RedisClient
import Testing

/// `RedisStockCache.invalidate` (a replayed write's levels never reached the cache): an older level in Redis stops
/// answering on every node, a late older offer cannot bring it back, the current level gets in; a newer one stays.
@Suite(.enabled(if: RedisTestServer.url != nil, "needs BAZAAR_TEST_REDIS_URL (scripts/services/redis.sh)"))
struct RedisReplayFloorTests {
    static func level(_ version: Int64) -> StockLevel { StockLevel(quantity: version * 10, version: version, updatedAtMillis: 1) }

    @Test func anOlderLevelStopsAnsweringAndOnlyTheCurrentOneComesBack() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: RedisTestServer.url!))
        let prefix = "floor-\(UUID().uuidString.prefix(8)):"
        // Two nodes' caches: `writer` invalidates, `reader` has never held the key in its near cache.
        let writer = RedisStockCache(redis: redis, keyPrefix: prefix, nearCapacity: 100, logger: Logger(label: "t"))
        func reader() -> RedisStockCache { RedisStockCache(redis: redis, keyPrefix: prefix, nearCapacity: 100, logger: Logger(label: "t")) }
        let key = StockKey(storeID: "S1", productID: "P1"), newer = StockKey(storeID: "S1", productID: "P2")
        await writer.offer(key, Self.level(1))
        await writer.offer(newer, Self.level(3))
        #expect(await reader().get(key)?.version == 1)

        await writer.invalidate(key, minimumVersion: 2, minimumRevision: 2)
        await writer.invalidate(newer, minimumVersion: 2, minimumRevision: 2)
        let (onWriter, onReader) = (await writer.get(key), await reader().get(key))
        #expect(onWriter == nil && onReader == nil, "the older level answers nowhere")
        #expect(await reader().get(newer)?.version == 3, "a newer level is left as it is")
        await reader().offer(key, Self.level(1))  // a late offer of the older level
        #expect(await reader().get(key) == nil)
        await reader().offer(key, Self.level(2))  // the database's current level, read after the miss
        let (current, currentOnWriter) = (await reader().get(key), await writer.get(key))
        #expect(current?.version == 2 && currentOnWriter?.version == 2)
    }

    /// When the invalidation's script never reached Redis (it failed; `missedUpdates` then flushes Redis once it
    /// answers again), the node's own near cache still knows the minimum: Redis's older level does not answer here
    /// meanwhile, and the current one does.
    @Test func anInvalidationRedisNeverTookStillStopsItsOlderLevelOnThisNode() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: RedisTestServer.url!))
        let prefix = "floor-\(UUID().uuidString.prefix(8)):"
        let cache = RedisStockCache(redis: redis, keyPrefix: prefix, nearCapacity: 100, nearMaxAgeMillis: 3_600_000, logger: Logger(label: "t"))
        let key = StockKey(storeID: "S1", productID: "P1")
        await cache.offer(key, Self.level(1))
        cache.near.invalidate(key, minimumVersion: 2, minimumRevision: 2)  // what `invalidate` does before its script
        #expect(await cache.get(key) == nil, "Redis's level 1 is below the invalidation")
        await cache.offer(key, Self.level(2))
        #expect(await cache.get(key)?.version == 2)
    }
}
