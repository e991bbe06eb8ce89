import BazaarCore
import BazaarDomain
import BazaarRedis
import Testing

/// The Redis value holds the inventory states, the revision first for the offer script's comparison (issue 17).
@Suite struct RedisLevelEncodingTests {
    @Test func levelsRoundTripWithTheirStatesAndOlderValuesStillRead() {
        let level = StockLevel(quantity: -4, version: 7, updatedAtMillis: 123, reserved: 3, incoming: 12, stateChanges: 5)
        #expect(RedisStockCache.decode(RedisStockCache.encode(level)) == level)
        #expect(RedisStockCache.encode(level).hasPrefix("12:"), "the revision first")
        // Written before the states existed: `version:quantity:updated` reads as revision = version, no states.
        #expect(RedisStockCache.decode("7:-4:123") == StockLevel(quantity: -4, version: 7, updatedAtMillis: 123))
        #expect(RedisStockCache.decode("3:7:1:1:0:0") == nil, "a revision below its version is not a value")
    }
}
