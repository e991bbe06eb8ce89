import BazaarCore
import BazaarDomain
import Testing

/// The cache's version rule over the inventory states (issue 17): values are ordered by revision (version + changes
/// of reserved and incoming), and an invalidation by another node's event holds until a value that new arrives.
@Suite struct StockCacheRevisionTests {
    let key = StockKey(storeID: "S1", productID: "P1")

    func level(version: Int64, stateChanges: Int64, reserved: Int64 = 0) -> StockLevel {
        StockLevel(quantity: 10, version: version, updatedAtMillis: 1, reserved: reserved, stateChanges: stateChanges)
    }

    @Test func aReservationReplacesTheCachedLevelOfTheSameVersion() {
        let cache = InProcessStockCache(capacity: 16, shardCount: 1)
        cache.offer(key, level(version: 3, stateChanges: 0))
        cache.offer(key, level(version: 3, stateChanges: 1, reserved: 2))
        #expect(cache.get(key)?.reserved == 2, "same version, newer revision")
        cache.offer(key, level(version: 3, stateChanges: 0))
        #expect(cache.get(key)?.reserved == 2, "an older revision never replaces a newer one")
    }

    @Test func anInvalidatedValueAnswersNothingUntilOneAsNewArrives() {
        let cache = InProcessStockCache(capacity: 16, shardCount: 1)
        cache.offer(key, level(version: 3, stateChanges: 1))
        cache.invalidate(key, minimumVersion: 0, minimumRevision: 4)  // 4 <= its revision: nothing to do
        #expect(cache.get(key) != nil)
        cache.invalidate(key, minimumVersion: 0, minimumRevision: 6)
        #expect(cache.get(key) == nil, "another node's change: read the database")
        cache.offer(key, level(version: 3, stateChanges: 2))  // revision 5: a read from before the change
        #expect(cache.get(key) == nil)
        cache.offer(key, level(version: 3, stateChanges: 3, reserved: 1))
        #expect(cache.get(key)?.reserved == 1)
        // A movement event names a version: a value below it (whatever its revision) is not enough.
        cache.invalidate(key, minimumVersion: 5, minimumRevision: 5)
        #expect(cache.get(key) == nil)
        cache.offer(key, level(version: 4, stateChanges: 9))
        #expect(cache.get(key) == nil)
        cache.offer(key, level(version: 5, stateChanges: 3))
        #expect(cache.get(key)?.version == 5)
    }
}
