import BazaarDomain

/// The thresholds this node read or computed, by store x product, for `IntelligenceService.cacheTTLMillis`.
///
/// Invariant: an invalidation wins over every read that began before it. A reader takes a `ticket` before it reads
/// storage and installs what it read with that ticket; an invalidation after the ticket (an override, the pass, a
/// demand anomaly) refuses the install. So a writer invalidates *after* its storage write (`invalidate`, or
/// `replace` to cache what it wrote): a read that began before the write may have found the old row, and one that
/// begins after finds the new. Without it, an alert evaluation that read the old row just before a
/// settings PUT re-derived it would put the old row back in the cache after the PUT's own, and the node would answer
/// the old target for the cache's lifetime (`ThresholdCacheTests`).
struct ThresholdCache: Sendable {
    typealias Entry = (thresholds: StockThresholds, atMillis: Int64)
    private var entries: [StockKey: Entry] = [:]
    /// Counts invalidations; a ticket is its value when a read began.
    private var generation: UInt64 = 0
    /// When each key was last invalidated.
    private var invalidatedAt: [StockKey: UInt64] = [:]
    /// Tickets older than this are refused for every key: `invalidatedAt` was emptied to bound its size.
    private var oldestValidTicket: UInt64 = 0
    static let maxEntries = 200_000

    subscript(key: StockKey) -> Entry? { entries[key] }

    var ticket: UInt64 { generation }

    mutating func invalidate(_ key: StockKey) {
        generation += 1
        entries[key] = nil
        if invalidatedAt.count >= Self.maxEntries {
            invalidatedAt.removeAll()
            oldestValidTicket = generation
        }
        invalidatedAt[key] = generation
    }

    /// What a writer just wrote to storage: every read begun before is refused, and this is cached.
    mutating func replace(_ key: StockKey, _ entry: Entry) {
        invalidate(key)
        install(key, entry, ticket: generation)
    }

    /// Installs what a read that took `ticket` found, unless `key` was invalidated since.
    mutating func install(_ key: StockKey, _ entry: Entry, ticket: UInt64) {
        guard ticket >= oldestValidTicket, (invalidatedAt[key] ?? 0) <= ticket else { return }
        if entries.count >= Self.maxEntries { entries.removeAll() }
        entries[key] = entry
    }
}
