/// Every stock row in primary-key order (store, then product), a page at a time: what warms the read cache at start
/// (`CacheWarmer`). Each page is one read of committed rows; a row may change right after it is read, which is why
/// the cache takes pages through `InProcessStockCache.warm` and its ticket, never as plain fills.
public protocol LevelScanStore: Sendable {
    /// Up to `limit` rows strictly after `after` (from the first row when nil), in (store id, product id) order, read
    /// from the primary: a replica may be behind the levels this node's own writes already put in the cache.
    func levelsInKeyOrder(after: StockKey?, limit: Int) async throws -> [StockRow]
}
