import BazaarCore
import BazaarDomain
import Testing

@Suite("Invariant 4: the cache never goes back in version")
struct CacheVersionTests {
    @Test func anOlderVersionNeverReplacesANewerOne() async {
        let inProcess = InProcessStockCache(capacity: 64, shardCount: 2)
        let cache: any StockCache = inProcess  // through the protocol, as the service uses it
        let key = StockKey(storeID: "S1", productID: "P1")
        await cache.offer(key, StockLevel(quantity: 5, version: 5, updatedAtMillis: 5))
        await cache.offer(key, StockLevel(quantity: 3, version: 3, updatedAtMillis: 3))  // a slow reader's fill
        #expect(await cache.get(key)?.version == 5)
        await cache.offer(key, StockLevel(quantity: 6, version: 6, updatedAtMillis: 6))
        #expect(await cache.get(key) == StockLevel(quantity: 6, version: 6, updatedAtMillis: 6))
        // Bounded: old entries are evicted, least recently used first.
        for i in 0..<200 { await cache.offer(StockKey(storeID: "S\(i)", productID: "P"), .empty) }
        #expect(inProcess.count <= 64)
    }

    @Test func everyClientReadsAtLeastTheVersionItWasAnswered() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<32 {
                    group.addTask {
                        var seen: Int64 = 0
                        for _ in 0..<15 {
                            let write = try await client.call(.post, "/update-stock/S1/P\(c % 3 + 1)", body: #"{"delta": 1}"#)
                            let written = try #require(write.int("version"))
                            #expect(written > seen)
                            let read = try await client.call(.get, "/get-stock/S1/P\(c % 3 + 1)")
                            let version = try #require(read.int("version"))
                            #expect(version >= written, "read version \(version) is older than this client's own write \(written)")
                            seen = version
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
