import BazaarDomain
import Testing

@testable import BazaarCore

/// `ThresholdCache`: an invalidation wins over every read that began before it.
@Suite("The intelligence's threshold cache")
struct ThresholdCacheTests {
    let key = StockKey(storeID: "S1", productID: "P1")
    func thresholds(_ reorderPoint: Double) -> StockThresholds {
        StockThresholds(dailyRate: 1, reorderPoint: reorderPoint, orderUpTo: reorderPoint + 5, leadTimeDays: 2, anomalyAbove: 9, computedAtMillis: 0)
    }

    /// The race a settings PUT lost: an alert evaluation reads the old row, the PUT writes and caches the new one,
    /// then the evaluation caches what it read. The old row must not come back.
    @Test func aReadBegunBeforeAWriteCannotOverwriteIt() {
        var cache = ThresholdCache()
        let evaluation = cache.ticket  // the evaluation begins, then reads the old row (10) from storage
        cache.replace(key, (thresholds(20), 1))  // the PUT has written 20 to storage
        cache.install(key, (thresholds(10), 2), ticket: evaluation)
        #expect(cache[key]?.thresholds.reorderPoint == 20)
        // The same with the write only invalidating (the pass, a demand anomaly).
        let reader = cache.ticket
        cache.invalidate(key)
        cache.install(key, (thresholds(10), 3), ticket: reader)
        #expect(cache[key] == nil)
        // A read begun after the invalidation found storage's new row: it is cached.
        cache.install(key, (thresholds(30), 4), ticket: cache.ticket)
        #expect(cache[key]?.thresholds.reorderPoint == 30)
    }

    @Test func otherKeysAreNotHeldUp() {
        var cache = ThresholdCache()
        let other = StockKey(storeID: "S2", productID: "P1")
        let reader = cache.ticket
        cache.invalidate(key)
        cache.install(other, (thresholds(7), 1), ticket: reader)
        #expect(cache[other]?.thresholds.reorderPoint == 7)
    }

    /// The invalidation record is bounded; when it is emptied, every earlier ticket is refused for every key.
    @Test func boundedWithoutForgettingAnInvalidation() {
        var cache = ThresholdCache()
        let reader = cache.ticket
        cache.invalidate(key)
        for i in 0..<ThresholdCache.maxEntries { cache.invalidate(StockKey(storeID: "T", productID: String(i))) }
        cache.install(key, (thresholds(10), 1), ticket: reader)
        #expect(cache[key] == nil, "the record of key's invalidation was emptied, and the old ticket is still refused")
        cache.install(key, (thresholds(11), 2), ticket: cache.ticket)
        #expect(cache[key]?.thresholds.reorderPoint == 11)
    }
}
