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

    /// Values and coherence messages are text any client of the Redis server can write: what this service could
    /// not have written reads as nothing. Each of these trapped a node before (index arithmetic on a huge key
    /// length; `revision - version`, `available` or the time's rendering overflowing).
    @Test func hostileValuesKeysAndMessagesReadAsNothing() {
        let values = ["9223372036854775807:-1:0:0:0:0", "-1:-1:0:0:0:0", "5:2:1:1:-9223372036854775808:0", "1:1:0:9223372036854775807:0:0",
                      "1:1:-9223372036854775808:0:9223372036854775807:0", "1:1:0:0:0:-1", "-5:0:0", "1:0:-1", ":::::", "", "1:1:1:1:1",
                      "1:1:1:1:1:1:1", "x:1:1:1:1:1"]
        for text in values { #expect(RedisStockCache.decode(text) == nil, "\(text)") }
        for key in ["9223372036854775807:S1:P1", "99:S1:P1", "4:S1:P", "3:S1", "0::P1", "-1:S1:P1", "2:S1:", "2:S1", ":S1:P1", "S1:P1"] {
            #expect(RedisStockCache.decodeKey(key) == nil, "\(key)")
        }
        #expect(RedisStockCache.parseMessage("9223372036854775807:S1:P1|1:1:1:1:0:0") == nil)
        #expect(RedisStockCache.decodeKey("2:S1:P1") == StockKey(storeID: "S1", productID: "P1"))
        #expect(RedisStockCache.decode("1:1:5:0:0:0") == StockLevel(quantity: 5, version: 1, updatedAtMillis: 0))
    }
}
