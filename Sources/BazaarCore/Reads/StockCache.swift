public import BazaarDomain

public struct StockKey: Hashable, Sendable {
    public var storeID: String
    public var productID: String

    public init(storeID: String, productID: String) {
        self.storeID = storeID
        self.productID = productID
    }
}

/// A read cache of stock levels. Its one rule (invariant 4): a value is only ever replaced by a newer
/// revision (`StockLevel.revision`: the version, plus the changes of reserved and incoming stock), so a slow reader
/// filling an old value can never put it back over a newer one.
public protocol StockCache: Sendable {
    func get(_ key: StockKey) async -> StockLevel?
    /// Stores `level` unless the cache already holds the same or a newer revision.
    func offer(_ key: StockKey, _ level: StockLevel) async
    /// Another node changed the row to at least this version and revision: unless the cache already holds them,
    /// its value stops answering `get`, and only a value that reaches both replaces it.
    func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) async
}

extension StockCache {
    /// Caches kept coherent another way (Redis) have nothing to do.
    public func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) async {}
}

/// The in-process cache of the embedded default: a sharded, bounded LRU. With `maxAgeMillis` (the near cache in
/// front of Redis) an entry answers `get` only while that fresh, but stays as the version floor of its key.
public final class InProcessStockCache: StockCache {
    struct Entry: Sendable {
        var level: StockLevel
        var storedAtMillis: Int64
        /// Set by `invalidate`: the entry answers no `get` until a level at least this new replaces it.
        var stale: (version: Int64, revision: Int64)? = nil
    }

    private let shards: [Locked<LRU<StockKey, Entry>>]
    private let maxAgeMillis: Int64?
    private let clock: WallClock

    public init(capacity: Int = 1_000_000, shardCount: Int = 16, maxAgeMillis: Int64? = nil, clock: WallClock = .system) {
        let perShard = max(1, capacity / shardCount)
        shards = (0..<shardCount).map { _ in Locked(LRU(capacity: perShard)) }
        self.maxAgeMillis = maxAgeMillis
        self.clock = clock
    }

    @inline(__always)
    private func shard(_ key: StockKey) -> Locked<LRU<StockKey, Entry>> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    public func get(_ key: StockKey) -> StockLevel? {
        guard let maxAgeMillis else {
            return shard(key).withLock { lru in
                guard let entry = lru.get(key), entry.stale == nil else { return nil }
                return entry.level
            }
        }
        let now = clock.nowMillis()
        return shard(key).withLock { lru in
            guard let entry = lru.get(key), entry.stale == nil, now - entry.storedAtMillis <= maxAgeMillis else { return nil }
            return entry.level
        }
    }

    /// The newest level held for the key, however old: no answer may go below it.
    public func floor(_ key: StockKey) -> StockLevel? {
        shard(key).withLock { $0.peek(key)?.level }
    }

    public func offer(_ key: StockKey, _ level: StockLevel) {
        let now = maxAgeMillis == nil ? 0 : clock.nowMillis()
        shard(key).withLock { lru in
            if let existing = lru.peek(key) {
                if existing.level.revision > level.revision { return }
                if let stale = existing.stale {
                    if level.version < stale.version || level.revision < stale.revision { return }
                } else if existing.level.revision == level.revision, maxAgeMillis == nil {
                    return  // the same revision again confirms it is current (with an age bound: fresh again)
                }
            }
            lru.set(key, Entry(level: level, storedAtMillis: now))
        }
    }

    public func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) {
        shard(key).withLock { lru in
            guard var entry = lru.peek(key) else { return }
            if entry.level.version >= minimumVersion, entry.level.revision >= minimumRevision { return }
            let stale = entry.stale ?? (0, 0)
            entry.stale = (max(stale.version, minimumVersion), max(stale.revision, minimumRevision))
            lru.set(key, entry)
        }
    }

    public func clear() {
        for shard in shards { shard.withLock { $0 = LRU(capacity: $0.capacity) } }
    }

    public var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.count } } }
}

/// A fixed-capacity least-recently-used map on index-linked arrays (no per-entry allocation).
struct LRU<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private var index: [Key: Int] = [:]
    private var keys: [Key?] = []
    private var values: [Value?] = []
    private var prev: [Int] = []
    private var next: [Int] = []
    private var head = -1  // most recent
    private var tail = -1  // least recent
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { index.count }

    func peek(_ key: Key) -> Value? {
        index[key].flatMap { values[$0] }
    }

    mutating func get(_ key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        moveToFront(slot)
        return values[slot]
    }

    mutating func set(_ key: Key, _ value: Value) {
        if let slot = index[key] {
            values[slot] = value
            moveToFront(slot)
            return
        }
        let slot: Int
        if index.count < capacity {
            slot = keys.count
            keys.append(key)
            values.append(value)
            prev.append(-1)
            next.append(-1)
        } else {
            slot = tail
            unlink(slot)
            if let old = keys[slot] { index[old] = nil }
            keys[slot] = key
            values[slot] = value
        }
        index[key] = slot
        pushFront(slot)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard head != slot else { return }
        unlink(slot)
        pushFront(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let p = prev[slot], n = next[slot]
        if p >= 0 { next[p] = n } else if head == slot { head = n }
        if n >= 0 { prev[n] = p } else if tail == slot { tail = p }
        prev[slot] = -1
        next[slot] = -1
    }

    private mutating func pushFront(_ slot: Int) {
        prev[slot] = -1
        next[slot] = head
        if head >= 0 { prev[head] = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}

/// No cache at all (`cache.capacity = 0`): every read goes to storage. For measuring storage, and for
/// deployments whose reads must always come from the database.
public struct NoStockCache: StockCache {
    public init() {}
    public func get(_ key: StockKey) async -> StockLevel? { nil }
    public func offer(_ key: StockKey, _ level: StockLevel) async {}
}
