public import BazaarCore
public import BazaarDomain
public import Logging
import Metrics
public import RedisClient
import Synchronization

/// The shared read cache: an in-process near cache in front of Redis, both holding versioned levels.
///
/// Invariant 4 across nodes: Redis replaces a value only with a newer version (one script: compare and set, then
/// publish the new level), so a slow reader's fill can never put an older value back. Every node subscribes to
/// the published levels and offers them to its near cache (`RedisCoherence`), so a write on one node reaches the
/// near caches of the others within the pub/sub delay; near entries serve reads for `nearMaxAgeMillis` at most,
/// which bounds staleness when a message is lost. Redis is an accelerator only: every Redis call goes through a
/// circuit breaker with a short timeout, and failures fall back to the database.
public final class RedisStockCache: StockCache {
    /// Compare and set, then publish, for many levels in one round trip: KEYS the levels' keys; ARGV[1] TTL in ms,
    /// ARGV[2] channel, then per key its revision, encoded value and message line. Returns, per key, 1 when stored and
    /// 0 when Redis held that version or a newer one. The stored levels' lines are published as one message (what
    /// every node's coherence subscriber reads, whatever its version).
    static let offerManyScript = RedisScript("""
        local stored, published = {}, {}
        for i, key in ipairs(KEYS) do
          local at = 3 * i
          stored[i] = 0
          local current = redis.call('GET', key)
          local version = current and tonumber(string.match(current, '^(%d+):'))
          if not (version and version >= tonumber(ARGV[at])) then
            redis.call('SET', key, ARGV[at + 1], 'PX', ARGV[1])
            published[#published + 1] = ARGV[at + 2]
            stored[i] = 1
          end
        end
        if #published > 0 then redis.call('PUBLISH', ARGV[2], table.concat(published, '\\n')) end
        return stored
        """)
    /// Levels offered while a script is in flight wait for the next one (at most this many a script): the answers
    /// of one group commit resume together, and their levels reach Redis in one round trip instead of one each.
    static let maxOffersPerScript = 256

    public let redis: RedisClient
    /// Every key and channel starts with the deployment's prefix (`redis.key_prefix`), so deployments can share a Redis.
    public let keyPrefix: String
    /// Where every stored level is published, for the near caches of all nodes.
    public var channel: String { keyPrefix + "stock-levels" }
    public let near: InProcessStockCache
    public let breaker: CircuitBreaker
    let ttlMillis: Int64
    let logger: Logger
    /// Set when an update could not reach Redis while the breaker was open: Redis may hold older values than the
    /// database for any key, so every cached level is dropped once Redis answers again.
    let missedUpdates = Atomic(false)
    /// Keys whose last offer failed (a timeout or an error with the breaker still closed): Redis may hold an older
    /// version of them, and the other nodes were not told. They are skipped on reads here and deleted from Redis
    /// by `repair` as soon as Redis answers (more than `maxDirtyKeys` turn into a full flush).
    let dirtyKeys = Mutex<Set<StockKey>>([])
    let repairing = Atomic(false)
    /// Times this node dropped every level (`dropAllLevels`): a Redis read that started before one is not kept.
    let levelDrops = Atomic<UInt64>(0)
    static let maxDirtyKeys = 10_000
    /// Offers waiting for the script in flight, and whether one is in flight.
    private let pendingOffers = Mutex<(queue: [PendingOffer], flushing: Bool)>(([], false))

    public init(redis: RedisClient, keyPrefix: String = "bazaar:", nearCapacity: Int, nearMaxAgeMillis: Int64 = 5000,
                ttlMillis: Int64 = 3_600_000, logger: Logger) {
        self.redis = redis
        self.keyPrefix = keyPrefix
        self.near = InProcessStockCache(capacity: nearCapacity, maxAgeMillis: nearMaxAgeMillis)
        self.ttlMillis = ttlMillis
        self.logger = logger
        let box = FlushBox()
        self.breaker = CircuitBreaker(failureThreshold: 3, openMillis: 1000, onRecovery: { await box.run() })
        box.action = { [weak self] in await self?.recovered() }
    }

    public func get(_ key: StockKey) async -> StockLevel? {
        if let level = near.get(key) {
            RedisCacheMetrics.nearHits.increment()
            return level
        }
        guard breaker.allow(), !isDirty(key) else { return nil }
        let drops = levelDrops.load(ordering: .acquiring)
        do {
            let reply = try await redis.send(["GET", redisKey(key)])
            RedisRoundTrips.cacheGet.increment()
            // The first answer after an outage may predate writes Redis missed: not trusted.
            if await breaker.recordSuccess() { return nil }
            guard let text = reply.string, let level = Self.decode(text) else {
                RedisCacheMetrics.misses.increment()
                return nil
            }
            // Older than what this node already holds, or below what an invalidation here marked (a floor Redis may
            // not have taken, its script failed): Redis missed an update; let the database answer.
            // Nor a level read before this node dropped every level (`dropAllLevels`): it may be one of them.
            guard near.mayAnswer(key, with: level), levelDrops.load(ordering: .acquiring) == drops else {
                RedisCacheMetrics.misses.increment()
                return nil
            }
            RedisCacheMetrics.hits.increment()
            near.offer(key, level)
            return level
        } catch {
            failed(error)
            return nil
        }
    }

    /// The near cache's level, as `get` answers it first. No side effect: a read that then goes on to `get` (its
    /// rate-limit lease spent) is counted there, once (`answeredFromMemory` counts the others).
    public func levelInMemory(_ key: StockKey) -> StockLevel? { near.get(key) }

    public func answeredFromMemory() { RedisCacheMetrics.nearHits.increment() }

    /// The near cache's newest level of the key (every level this node serves passes through it, but it is bounded:
    /// an evicted key has none, and `get` then asks Redis).
    public func floor(_ key: StockKey) -> StockLevel? { near.floor(key) }

    public func offer(_ key: StockKey, _ level: StockLevel) async { await offer([(key, level)]) }

    /// Answered once Redis holds these levels (or newer ones). The levels offered meanwhile travel together: the
    /// first offer starts a flush, later ones join the queue the flush drains, up to `maxOffersPerScript` levels a
    /// script; a group commit's levels come as one offer, so its writes wait once, not once a movement. Only each
    /// key's newest level goes to Redis (a Kafka batch names a pair many times; Redis keeps the newest anyway), and
    /// the breaker is asked before every script, as it was before every level: once Redis fails, the rest waits for
    /// the repair instead of each part waiting for its timeout.
    public func offer(_ levels: [(key: StockKey, level: StockLevel)]) async {
        guard !levels.isEmpty else { return }
        // The near cache too keeps only a key's newest revision: the older levels would be refused there anyway.
        let levels = Self.newestOfEachKey(levels)
        for (key, level) in levels { near.offer(key, level) }
        var start = levels.startIndex
        while start < levels.endIndex {
            guard breaker.allow() else {
                missedUpdates.store(true, ordering: .relaxed)
                startRepair()
                return
            }
            let part = Array(levels[start..<min(levels.endIndex, start + Self.maxOffersPerScript)])
            start += part.count
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let lead = pendingOffers.withLock { state -> Bool in
                    state.queue.append(PendingOffer(levels: part, done: done))
                    guard !state.flushing else { return false }
                    state.flushing = true
                    return true
                }
                if lead { Task { await self.flushOffers() } }
            }
        }
    }

    /// The newest revision of each key, in the order the keys first appear (a single level, or distinct keys, as given).
    static func newestOfEachKey(_ levels: [(key: StockKey, level: StockLevel)]) -> [(key: StockKey, level: StockLevel)] {
        guard levels.count > 1 else { return levels }
        var at: [StockKey: Int] = [:]
        at.reserveCapacity(levels.count)
        var newest: [(key: StockKey, level: StockLevel)] = []
        for (key, level) in levels {
            if let index = at[key] {
                if level.revision > newest[index].level.revision { newest[index].level = level }
            } else {
                at[key] = newest.count
                newest.append((key, level))
            }
        }
        return newest
    }

    private struct PendingOffer: Sendable {
        let levels: [(key: StockKey, level: StockLevel)]
        let done: CheckedContinuation<Void, Never>
    }

    /// Stores the queued levels, one script a round trip, until the queue is empty.
    private func flushOffers() async {
        while true {
            let batch = pendingOffers.withLock { state -> [PendingOffer] in
                guard !state.queue.isEmpty else {
                    state.flushing = false
                    return []
                }
                // Whole offers, at most `maxOffersPerScript` levels (an offer holds no more), at least one offer.
                var count = 0, levels = 0
                while count < state.queue.count, count == 0 || levels + state.queue[count].levels.count <= Self.maxOffersPerScript {
                    levels += state.queue[count].levels.count
                    count += 1
                }
                defer { state.queue.removeFirst(count) }
                return Array(state.queue.prefix(count))
            }
            if batch.isEmpty { return }
            await store(batch)
            for offer in batch { offer.done.resume() }
        }
    }

    /// Stores each level unless Redis holds a newer one, and publishes the stored levels in one message: one script.
    func compareAndSet(_ levels: [(key: StockKey, level: StockLevel)]) async throws -> RESPValue {
        var keys: [String] = [], arguments = [String(ttlMillis), channel]
        keys.reserveCapacity(levels.count)
        arguments.reserveCapacity(2 + 3 * levels.count)
        for (key, level) in levels {
            let encoded = Self.encode(level)
            keys.append(redisKey(key))
            arguments += [String(level.revision), encoded, Self.message(key, encoded)]
        }
        return try await redis.run(Self.offerManyScript, keys: keys, arguments: arguments)
    }

    private func store(_ batch: [PendingOffer]) async {
        do {
            let stored = try await compareAndSet(batch.flatMap(\.levels))
            RedisRoundTrips.cacheOffer.increment()
            await breaker.recordSuccess()
            for flag in stored.array ?? [] where flag.int == 0 { RedisCacheMetrics.staleRefused.increment() }
        } catch {
            // The script may or may not have run: Redis may keep older versions, and no node was told.
            for offer in batch { for (key, _) in offer.levels { markDirty(key) } }
            failed(error)
        }
    }

    /// The levels one script of any node stored (the coherence channel): a line each (see `message`).
    func received(_ message: String) {
        Self.forEachLevel(inMessage: message) { key, level in near.offer(key, level) }
    }

    private func isDirty(_ key: StockKey) -> Bool {
        dirtyKeys.withLock { !$0.isEmpty && $0.contains(key) }
    }

    func failed(_ error: any Error) {
        RedisCacheMetrics.errors.increment()
        let before = breaker.state
        breaker.recordFailure()
        // Logged once per outage (a failed probe while half-open re-opens the breaker without a new message).
        if before == .closed, breaker.state == .open {
            logger.warning("redis unavailable: reads fall back to the database", metadata: ["error": "\(error)"])
        }
    }
}

/// Lets the breaker's recovery action call back into the cache that owns the breaker.
final class FlushBox: @unchecked Sendable {
    var action: (@Sendable () async -> Void)?
    func run() async { await action?() }
}

enum RedisCacheMetrics {
    static let nearHits = Counter(label: "bazaar_cache_hits_total", dimensions: [("tier", "near")])
    static let hits = Counter(label: "bazaar_cache_hits_total", dimensions: [("tier", "redis")])
    static let misses = Counter(label: "bazaar_cache_misses_total")
    static let staleRefused = Counter(label: "bazaar_cache_fills_refused_stale_total")
    static let errors = Counter(label: "bazaar_redis_errors_total")
    static let dirtyKeys = Counter(label: "bazaar_cache_updates_failed_total")
}
