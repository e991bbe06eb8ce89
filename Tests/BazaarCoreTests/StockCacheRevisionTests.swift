import BazaarCore
import BazaarDomain
import Testing
import StockDoubles

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

    /// Invariant 4 through a read: a level this node served is the floor of every later answer, even once another
    /// node's event invalidated it (it no longer answers `get`) and the replica a read then asks trails further
    /// behind (another replica than the last, or the same one after the primary stood in for it).
    @Test func aTrailingReplicaNeverTakesAReadBelowALevelThisNodeServed() async throws {
        let f = try await StockServiceInMemoryTests.Fixture()
        for _ in 0..<5 { _ = try await f.service.write([try StockServiceInMemoryTests.command(delta: 1)], actor: "t", scope: "k") }
        f.replica.answers(StockLevel(quantity: 3, version: 3, updatedAtMillis: 1), for: "S1", "P1")
        #expect(try await f.service.level(storeID: "S1", productID: "P1").version == 5)
        await f.cache.invalidate(key, minimumVersion: 6, minimumRevision: 6)  // another node wrote version 6
        #expect(try await f.service.level(storeID: "S1", productID: "P1").version == 5, "not back to the replica's 3")
        f.replica.answers(StockLevel(quantity: 6, version: 6, updatedAtMillis: 1), for: "S1", "P1")
        #expect(try await f.service.level(storeID: "S1", productID: "P1").version == 6)
        f.replica.answers(StockLevel(quantity: 3, version: 3, updatedAtMillis: 1), for: "S1", "P1")
        #expect(try await f.service.level(storeID: "S1", productID: "P1").version == 6, "nor back below 6")
    }
}
