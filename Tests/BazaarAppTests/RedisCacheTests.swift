import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarRedis
import Foundation
import HummingbirdTesting
import Logging
import RedisClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

enum RedisTestServer {
    static let url = Backend.redisURL

    /// A system on `database` with Redis at `redisURL` (the shared test server unless given); `nearMaxAgeMillis`,
    /// when given, is how long its near cache answers a level without asking Redis (`cache.near_max_age_ms`).
    static func system(_ database: String, redisURL: String? = nil, rate: Double = 1_000_000, burst: Double = 1_000_000,
                       nearMaxAgeMillis: Int? = nil, clock: WallClock = .system) async throws -> BazaarSystem {
        var configuration = Harness.configuration(database, rate: rate, burst: burst)
        configuration.redisURL = redisURL ?? url
        if let nearMaxAgeMillis { configuration.cacheNearMaxAgeMillis = nearMaxAgeMillis }
        // One namespace per test database: tests share the Redis server.
        configuration.redisKeyPrefix = "test:\(UInt(bitPattern: database.hashValue)):"
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try await BazaarSystem.start(configuration: configuration, logger: logger, clock: clock)
    }

    static func seed(_ client: some TestClientProtocol) async throws {
        _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name":"s"}"#)
        _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
    }
}

@Suite("Redis: versioned cache, coherence across nodes, shared rate limits", .ownConsistencyTokens,
       .enabled(if: RedisTestServer.url != nil, "needs BAZAAR_TEST_REDIS_URL (scripts/services/redis.sh)"))
struct RedisCacheTests {
    @Test func racingFillsAndWritesNeverPutAnOlderVersionBack() async throws {
        // A generous timeout: the suite's first seconds load both cores (a failed offer is repaired, below).
        var configuration = try RedisConfiguration(url: RedisTestServer.url!)
        configuration.commandTimeoutMillis = 10_000
        let redis = RedisClient(configuration: configuration)
        let key = StockKey(storeID: "RACE-\(UUID().uuidString.prefix(8))", productID: "P1")
        // Many nodes' worth of caches (each its own near cache) offering versions 1...200 in random order.
        let caches = (0..<4).map { _ in RedisStockCache(redis: redis, nearCapacity: 1000, logger: Logger(label: "t")) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for version in (1...200).shuffled() {
                let cache = caches[version % caches.count]
                group.addTask { await cache.offer(key, StockLevel(quantity: Int64(version) * 10, version: Int64(version), updatedAtMillis: 1)) }
            }
            try await group.waitForAll()
        }
        // Every offer answered: Redis holds the newest version, at once or, if an offer failed under load, once the
        // writer's repair stored the newest level it knows again (it used to delete the key, and a late offer of 199
        // then filled it and stayed).
        var seen: StockLevel?
        let converged = try await eventually(seconds: 10) {
            seen = await RedisStockCache(redis: redis, nearCapacity: 1000, logger: Logger(label: "t")).get(key)
            return seen == StockLevel(quantity: 2000, version: 200, updatedAtMillis: 1)
        }
        #expect(converged, "Redis holds \(String(describing: seen))")
        // A slow reader's fill of an old version is refused.
        let fresh = RedisStockCache(redis: redis, nearCapacity: 1000, logger: Logger(label: "t"))
        await fresh.offer(key, StockLevel(quantity: 1, version: 3, updatedAtMillis: 1))
        let other = RedisStockCache(redis: redis, nearCapacity: 1000, logger: Logger(label: "t"))
        #expect(await other.get(key)?.version == 200)
        await redis.close()
    }

    /// Coherence: a write on node A reaches node B's near cache by a pub/sub message. B's near cache answers for an
    /// hour without asking Redis, so only that message can bring B the new version (with the default 5 s age a lost
    /// message was made up for by the age, and a fixed 1 s window failed on a loaded machine for other reasons): each
    /// round polls for 30 s, and a message that never arrives fails it. B's reads send no consistency token (one
    /// would make storage answer them, past the cache under test).
    @Test func aWriteOnOneNodeIsReadOnTheOtherWithItsVersion() async throws {
        let db = TestDatabase()
        let nodeA = try await RedisTestServer.system(db.url)
        let nodeB = try await RedisTestServer.system(db.url, nearMaxAgeMillis: 3_600_000)
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                try await RedisTestServer.seed(a)
                _ = try await a.call(.put, "/v1/products/WARM", body: #"{"name":"w"}"#)
                // B subscribes as it starts, and a message published before that is lost for good (the near age is an
                // hour): first see B follow A's writes on a pair of its own, B holding it in its near cache meanwhile.
                var warm = try await a.call(.post, "/update-stock/S1/WARM", body: #"{"delta": 1, "reason": "receipt"}"#).int("version") ?? 0
                _ = try await b.call(.get, "/get-stock/S1/WARM", sendingConsistencyToken: false)
                let following = try await eventually(seconds: 30) {
                    warm = try await a.call(.post, "/update-stock/S1/WARM", body: #"{"delta": 1, "reason": "receipt"}"#).int("version") ?? 0
                    return try await eventually(seconds: 1) {
                        try await b.call(.get, "/get-stock/S1/WARM", sendingConsistencyToken: false).int("version") == warm
                    }
                }
                try #require(following, "node B never received a coherence message")
                for round in 1...20 {
                    _ = try await b.call(.get, "/get-stock/S1/P1", sendingConsistencyToken: false)  // B holds the previous version in its near cache
                    let write = try await a.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
                    #expect(write.int("version") == Int64(round))
                    // Coherence is a pub/sub message away: B sees the new version within milliseconds unloaded.
                    var seen: Int64 = 0
                    let arrived = try await eventually(seconds: 30) {
                        let version = try await b.call(.get, "/get-stock/S1/P1", sendingConsistencyToken: false).int("version") ?? 0
                        #expect(version >= seen, "never back in version")
                        seen = version
                        return version == Int64(round)
                    }
                    #expect(arrived, "round \(round): B still answers version \(seen)")
                }
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    /// A group commit's levels travel in one coherence message, a line each, and a node applies every line: a batch
    /// of five pairs written on A is one message on the channel (five, one a movement, before), and B, whose near
    /// cache would answer each pair's old level for an hour, reads all five new ones.
    @Test func aCommitsLevelsTravelInOneCoherenceMessage() async throws {
        let db = TestDatabase()
        let nodeA = try await RedisTestServer.system(db.url)
        let nodeB = try await RedisTestServer.system(db.url, nearMaxAgeMillis: 3_600_000)
        var configuration = try RedisConfiguration(url: RedisTestServer.url!)
        configuration.commandTimeoutMillis = 10_000
        let channel = ChannelListener()
        let listening = channel.listen(configuration, to: "test:\(UInt(bitPattern: db.url.hashValue)):stock-levels")
        let products = (1...5).map { "BATCH\($0)" }
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                try await RedisTestServer.seed(a)
                for product in products { _ = try await a.call(.put, "/v1/products/\(product)", body: #"{"name":"p"}"#) }
                // B holds each pair's level (none yet) in its near cache.
                for product in products { #expect(try await b.call(.get, "/get-stock/S1/\(product)", sendingConsistencyToken: false).int("quantity") == 0) }
                try #require(try await eventually(seconds: 30) { channel.subscribed }, "the test's subscriber never subscribed")
                channel.clear()
                let items = products.map { #"{"store_id":"S1","product_id":"\#($0)","delta":3,"reason":"receipt"}"# }
                #expect(try await a.call(.post, "/v1/movements", body: #"{"movements":[\#(items.joined(separator: ","))]}"#).status == 200)
                // The batch's levels are the ones at quantity 3 (B's fills of the empty levels, published just before,
                // may arrive after the reset).
                func batchLevels(_ message: String) -> Bool {
                    message.split(separator: "\n").contains { line in
                        RedisStockCache.parseMessage(String(line)).flatMap { RedisStockCache.decode($0.1) }?.quantity == 3
                    }
                }
                let batchMessage = try await eventually(seconds: 30) { channel.messages.contains(where: batchLevels) }
                try #require(batchMessage, "no coherence message for the batch")
                let messages = channel.messages.filter(batchLevels)
                #expect(messages.count == 1, "one message for the commit's five levels: \(messages)")
                let lines = messages.first?.split(separator: "\n").map(String.init) ?? []
                #expect(lines.compactMap { RedisStockCache.parseMessage($0)?.0.productID }.sorted() == products)
                for product in products {
                    let arrived = try await eventually(seconds: 30) {
                        try await b.call(.get, "/get-stock/S1/\(product)", sendingConsistencyToken: false).int("quantity") == 3
                    }
                    #expect(arrived, "\(product): B still answers the level it held before the batch")
                }
            }
        }
        listening.cancel()
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    /// A Kafka batch's offer: more levels than one script holds, each pair named three times, out of order. Every
    /// key ends in Redis at its newest revision, sent once: 700 keys in three scripts (256 levels at most), so three
    /// messages on the channel holding 700 lines.
    @Test func anOfferLargerThanAScriptStoresEveryKeysNewestLevelOnce() async throws {
        var configuration = try RedisConfiguration(url: RedisTestServer.url!)
        configuration.commandTimeoutMillis = 10_000
        let redis = RedisClient(configuration: configuration)
        let prefix = "test-large-\(UUID().uuidString.prefix(8)):"
        let channel = ChannelListener()
        let listening = channel.listen(configuration, to: prefix + "stock-levels")
        try #require(try await eventually(seconds: 30) { channel.subscribed }, "the test's subscriber never subscribed")
        let keys = (0..<700).map { StockKey(storeID: "S\($0 % 7)", productID: "P\($0)") }
        let levels = [2, 3, 1].flatMap { version in
            keys.map { (key: $0, level: StockLevel(quantity: Int64(version) * 10, version: Int64(version), updatedAtMillis: 1)) }
        }
        let writer = RedisStockCache(redis: redis, keyPrefix: prefix, nearCapacity: 10_000, logger: Logger(label: "t"))
        await writer.offer(levels)
        let reader = RedisStockCache(redis: redis, keyPrefix: prefix, nearCapacity: 10_000, logger: Logger(label: "t"))
        for key in keys { #expect(await reader.get(key)?.version == 3, "\(key)") }
        #expect(try await eventually(seconds: 30) { channel.lines >= 700 })
        #expect(channel.lines == 700 && channel.messages.count == 3)
        listening.cancel()
        await redis.close()
    }

    @Test func rateLimitsHoldAcrossNodes() async throws {
        let db = TestDatabase()
        // A token a quarter of an hour: however slow the machine, none comes back during the test.
        let nodeA = try await RedisTestServer.system(db.url, rate: 0.001, burst: 3)
        let nodeB = try await RedisTestServer.system(db.url, rate: 0.001, burst: 3)
        let key = try await nodeA.keys.create(name: "limited-\(UUID().uuidString.prefix(6))", role: .reader, stores: []).key
        try await nodeA.application().test(.router) { a in
            try await nodeB.application().test(.router) { b in
                var statuses: [Int] = []
                // No consistency token (a refused one spends a token before the harness retries without it).
                for client in [a, b, a, b, a] {
                    statuses.append(try await client.call(.get, "/v1/stores", key: key, sendingConsistencyToken: false).status)
                }
                #expect(statuses == [200, 200, 200, 429, 429], "3 requests in all, whichever node they reach")
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    @Test func redisKilledUnderLoadNoFailedWriteNoStaleReadAndRecovery() async throws {
        let port = 16900 + Int.random(in: 0..<90)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(port)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let start = "redis-server --port \(port) --bind 127.0.0.1 --save '' --daemonize yes --dir \(directory) --logfile \(directory)/log"
        let stop = "redis-cli -p \(port) shutdown nosave >/dev/null 2>&1"
        #expect(await shell(start) == 0)
        // The daemon answers once it listens: wait for that, not for a fixed 200 ms.
        #expect(try await eventually { await shell("redis-cli -p \(port) ping >/dev/null 2>&1") == 0 }, "redis-server on \(port) never answered")
        let db = TestDatabase()
        let node = try await RedisTestServer.system(db.url, redisURL: "redis://127.0.0.1:\(port)?timeout_ms=50")
        try await node.application().test(.live) { client in
            try await RedisTestServer.seed(client)
            let failures = SharedCount(), backwards = SharedCount()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var lastAnswered: Int64 = 0
                        for _ in 0..<60 {
                            let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
                            if write.status != 200 { failures.add() }
                            let mine = write.int("version") ?? 0
                            let read = try await client.call(.get, "/get-stock/S1/P1")
                            let version = read.int("version") ?? 0
                            if version < max(mine, lastAnswered) { backwards.add() }
                            lastAnswered = max(lastAnswered, version)
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(150))
                    _ = await shell(stop)
                }
                try await group.waitForAll()
            }
            #expect(failures.value == 0, "no write fails because Redis is down")
            #expect(backwards.value == 0, "no read older than the caller's own write or an earlier answer")
            let ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(ready.status == 200 && ready.body.contains("degraded"), "\(ready.body)")

            #expect(await shell(start) == 0)
            // Recovery by itself: within seconds Redis holds the newest level again, and no read in between answers an
            // older level than the last write. (Up to 30 s: the node's Redis timeouts are 50 ms, and under a full
            // suite's load its reconnection took longer than the 5 s this loop first allowed, in one CI run.)
            let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(port)"))
            let redisKey = (node.stock.cache as! RedisStockCache).redisKey(StockKey(storeID: "S1", productID: "P1"))
            var last: Int64 = 240
            var cached: String?
            let recovering = ContinuousClock.now
            while ContinuousClock.now - recovering < .seconds(30) {
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await client.call(.get, "/get-stock/S1/P1").int("version") == last)
                last = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#).int("version") ?? -1
                cached = try? await redis.send(["GET", redisKey]).string
                if cached?.hasPrefix("\(last):") == true { break }
            }
            #expect(cached?.hasPrefix("\(last):") == true, "Redis holds the newest level again")
            // Readiness is answered from a probe at most a second old (polled: each poll after a second probes again).
            #expect(try await eventually(seconds: 60) { try await client.call(.get, "/health/ready", key: nil).body.contains("\"ready\"") })
            await redis.close()
        }
        try await node.store.close()
        _ = await shell(stop)
    }
}

/// The messages of a Redis channel, as a subscriber of the test's own hears them.
final class ChannelListener: Sendable {
    private let heard = Mutex<(subscribed: Bool, messages: [String])>((false, []))

    var subscribed: Bool { heard.withLock { $0.subscribed } }
    var messages: [String] { heard.withLock { $0.messages } }
    /// The lines of every message heard (a coherence message holds a level a line).
    var lines: Int { messages.reduce(0) { $0 + $1.split(separator: "\n").count } }
    func clear() { heard.withLock { $0.messages = [] } }

    /// Subscribes until the task answered is cancelled.
    func listen(_ configuration: RedisConfiguration, to channel: String) -> Task<Void, Never> {
        let subscriber = RedisSubscriber(configuration: configuration, channels: [channel])
        return Task {
            await subscriber.run { event in
                self.heard.withLock { heard in
                    switch event {
                    case .subscribed: heard.subscribed = true
                    case .message(_, let payload): heard.messages.append(payload)
                    }
                }
            }
        }
    }
}
