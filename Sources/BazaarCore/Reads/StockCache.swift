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
    /// The level when this process holds it, fresh enough to answer: what `get` answers without any I/O; nil
    /// otherwise (`get` decides).
    func levelInMemory(_ key: StockKey) -> StockLevel?
    /// A read was answered with `levelInMemory`'s level (its hit counted as `get` counts its own).
    func answeredFromMemory()
    /// `offer` for each level, in this order (a commit's, oldest first): a shared cache stores them with one wait.
    func offer(_ levels: [(key: StockKey, level: StockLevel)]) async
    /// Another node changed the row to at least this version and revision: unless the cache already holds them,
    /// its value stops answering `get`, and only a value that reaches both replaces it.
    func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) async
    /// The newest level this process holds for the key, however old and even once invalidated: no read answers
    /// below it (invariant 4). nil when it holds none.
    func floor(_ key: StockKey) -> StockLevel?
    /// Forgets every level this process holds, floors included, and, `sharedToo`, every level of a cache shared with
    /// other nodes: the database went back in time, and the cached versions are handed out again with other
    /// quantities (`LedgerClockWatch`).
    func dropAllLevels(sharedToo: Bool) async throws
}

extension StockCache {
    // No default `invalidate`: an async default here would, on a concrete cache in an async context, be chosen over
    // that cache's own synchronous method, and do nothing. Each cache says what an invalidation does to it.

    public func levelInMemory(_ key: StockKey) -> StockLevel? { nil }

    public func floor(_ key: StockKey) -> StockLevel? { nil }

    public func answeredFromMemory() {}

    /// One at a time: what a cache in this process costs anyway.
    public func offer(_ levels: [(key: StockKey, level: StockLevel)]) async {
        for (key, level) in levels { await offer(key, level) }
    }
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

    /// One lock's worth of the cache: its entries, and a count of the times it lost what it knew of a key it does not
    /// hold (an invalidation of an absent key, a `clear`), which a warm page read before must not fill over (`warm`).
    struct Shard: Sendable {
        var lru: LRU<StockKey, Entry>
        var forgotten: UInt64 = 0
    }

    private let shards: [Locked<Shard>]
    private let maxAgeMillis: Int64?
    private let clock: WallClock
    /// Entries the cache holds at most (the shards' capacities added up).
    public let capacity: Int

    public init(capacity: Int = 1_000_000, shardCount: Int = 16, maxAgeMillis: Int64? = nil, clock: WallClock = .system) {
        let perShard = max(1, capacity / shardCount)
        shards = (0..<shardCount).map { _ in Locked(Shard(lru: LRU(capacity: perShard))) }
        self.capacity = perShard * shardCount
        self.maxAgeMillis = maxAgeMillis
        self.clock = clock
    }

    @inline(__always)
    private func shardIndex(_ key: StockKey) -> Int { Int(UInt(bitPattern: key.hashValue) % UInt(shards.count)) }

    @inline(__always)
    private func shard(_ key: StockKey) -> Locked<Shard> { shards[shardIndex(key)] }

    public func get(_ key: StockKey) -> StockLevel? {
        guard let maxAgeMillis else {
            return shard(key).withLock { shard in
                guard let entry = shard.lru.get(key), entry.stale == nil else { return nil }
                return entry.level
            }
        }
        let now = clock.nowMillis()
        return shard(key).withLock { shard in
            guard let entry = shard.lru.get(key), entry.stale == nil, now - entry.storedAtMillis <= maxAgeMillis else { return nil }
            return entry.level
        }
    }

    public func levelInMemory(_ key: StockKey) -> StockLevel? { get(key) }

    /// The newest level held for the key, however old or invalidated: no answer may go below it.
    public func floor(_ key: StockKey) -> StockLevel? {
        shard(key).withLock { $0.lru.peek(key)?.level }
    }

    public func offer(_ key: StockKey, _ level: StockLevel) {
        let now = maxAgeMillis == nil ? 0 : clock.nowMillis()
        shard(key).withLock { shard in
            guard Self.accepts(shard.lru.peek(key), level, ageBound: maxAgeMillis != nil) else { return }
            shard.lru.set(key, Entry(level: level, storedAtMillis: now))
        }
    }

    /// Whether `level`, read elsewhere (a shared cache), may answer for the key here: not older than the newest level
    /// held, nor below what an invalidation marked (a level a replayed write or another node has passed).
    public func mayAnswer(_ key: StockKey, with level: StockLevel) -> Bool {
        shard(key).withLock { Self.accepts($0.lru.peek(key), level, ageBound: true) }
    }

    /// Invariant 4 for one key: whether `level` may replace `existing` (nil: the key is not held).
    private static func accepts(_ existing: Entry?, _ level: StockLevel, ageBound: Bool) -> Bool {
        guard let existing else { return true }
        if existing.level.revision > level.revision { return false }
        if let stale = existing.stale {
            return level.version >= stale.version && level.revision >= stale.revision
        }
        // The same revision again confirms it is current (with an age bound: fresh again).
        return existing.level.revision != level.revision || ageBound
    }

    public func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) {
        shard(key).withLock { shard in
            guard var entry = shard.lru.peek(key) else {
                // Nothing to mark: but a warm page read before this message may hold the key's older level.
                shard.forgotten &+= 1
                return
            }
            if entry.level.version >= minimumVersion, entry.level.revision >= minimumRevision { return }
            let stale = entry.stale ?? (0, 0)
            entry.stale = (max(stale.version, minimumVersion), max(stale.revision, minimumRevision))
            shard.lru.set(key, entry)
        }
    }

    public func dropAllLevels(sharedToo: Bool) { clear() }

    public func clear() {
        for shard in shards {
            shard.withLock { shard in
                shard.lru = LRU(capacity: shard.lru.capacity)
                shard.forgotten &+= 1
            }
        }
    }

    public var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.lru.count } } }

    // MARK: Warming

    /// Taken just before a warm page is read from storage: what the cache knew then, for `warm` to check against.
    public struct WarmTicket: Sendable {
        let forgotten: [UInt64]
        let takenAtMillis: Int64
    }

    public func warmTicket() -> WarmTicket {
        WarmTicket(forgotten: shards.map { $0.withLock { $0.forgotten } }, takenAtMillis: clock.nowMillis())
    }

    /// Fills the cache with levels read from storage after `ticket` was taken, without ever going back in version:
    /// each row goes in by the rules of `offer` (invariant 4: a newer revision or a stale mark already held wins),
    /// and, because a row may be older than what the cache has known and since forgotten, also only
    ///  - into a shard with room: a warm never evicts (an eviction would forget a write's newer level, which the
    ///    next row of the same page could then be older than), and never displaces what reads put in;
    ///  - into a shard that has forgotten nothing since the ticket (an invalidation of a key it did not hold, from
    ///    another node's write the page may predate, or a `clear`): that shard's rows of the page are dropped.
    /// With an age bound, entries count as stored when the ticket was taken (the page is at least that old).
    /// Returns how many rows went in.
    @discardableResult
    public func warm(_ rows: [StockRow], ticket: WarmTicket) -> Int {
        precondition(ticket.forgotten.count == shards.count, "a warm ticket of another cache")
        var byShard = [[StockRow]](repeating: [], count: shards.count)
        for row in rows { byShard[shardIndex(StockKey(storeID: row.storeID, productID: row.productID))].append(row) }
        var inserted = 0
        for (index, rows) in byShard.enumerated() where !rows.isEmpty {
            inserted += shards[index].withLock { shard in
                guard shard.forgotten == ticket.forgotten[index] else { return 0 }
                var inserted = 0
                for row in rows {
                    let key = StockKey(storeID: row.storeID, productID: row.productID)
                    let existing = shard.lru.peek(key)
                    if existing == nil, shard.lru.count >= shard.lru.capacity { continue }
                    guard Self.accepts(existing, row.level, ageBound: maxAgeMillis != nil) else { continue }
                    shard.lru.set(key, Entry(level: row.level, storedAtMillis: ticket.takenAtMillis))
                    inserted += 1
                }
                return inserted
            }
        }
        return inserted
    }

    /// Whether every shard is full: a warm can put nothing more in.
    public var isFull: Bool { shards.allSatisfy { $0.withLock { $0.lru.count >= $0.lru.capacity } } }
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
    public func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) async {}
    public func dropAllLevels(sharedToo: Bool) async {}
}
