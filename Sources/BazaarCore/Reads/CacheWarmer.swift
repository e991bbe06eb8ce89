public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// Fills the in-process read cache from storage once, in the background after start, so that reads spread over a
/// whole chain hit the cache from the first minutes instead of reading storage once per pair (`cache.warm_limit`).
///
/// It walks the stock rows in primary-key order, `pageSize` at a time, until it has put `limit` levels in, the cache
/// is full, or the table ends. Every page goes in through `InProcessStockCache.warm` with a ticket taken before the
/// page was read, never as a plain fill: a row read before a concurrent write (or an invalidation from another node)
/// must not replace or resurrect an older level (invariant 4; `CacheWarmTests`). A shutdown stops the walk between
/// two pages and cancels the page in flight: the node never waits for a warm to finish. The server answers from the
/// start: a read before the warm reaches its key reads storage and fills the cache as usual.
public final class CacheWarmer: Service, Sendable {
    public static let defaultPageSize = 5000

    public struct Progress: Sendable, Equatable {
        /// Levels put in the cache so far.
        public var warmed = 0
        /// Rows read from storage (rows refused by the cache's rules are read but not warmed).
        public var read = 0
        /// Set when the walk is over, for whatever reason (done, cap, full cache, shutdown, storage error).
        public var finished = false
    }

    let source: any LevelScanStore
    let cache: InProcessStockCache
    let limit: Int
    let pageSize: Int
    let logger: Logger
    private let state = Mutex(Progress())

    static let warmedEntries = Counter(label: "bazaar_cache_warmed_total")

    /// `limit`: levels to put in at most (the cache's capacity bounds it anyway).
    public init(source: any LevelScanStore, cache: InProcessStockCache, limit: Int, pageSize: Int = defaultPageSize, logger: Logger) {
        precondition(pageSize > 0)
        self.source = source
        self.cache = cache
        self.limit = max(0, min(limit, cache.capacity))
        self.pageSize = pageSize
        self.logger = logger
    }

    public var progress: Progress { state.withLock { $0 } }

    public func run() async throws {
        // Cancelled at once on shutdown, the page in flight with it.
        await (try? cancelWhenGracefulShutdown { await self.warm() })
        // A service that returns ends its group: this one stays, idle, until the node stops.
        try? await gracefulShutdown()
    }

    /// The walk itself (what `run` does first): pages until the cap, a full cache, the end of the table, or cancellation.
    public func warm() async {
        defer { state.withLock { $0.finished = true } }
        let start = ContinuousClock.now
        var after: StockKey?
        var warmed = 0
        while warmed < limit, !Task.isCancelled, !cache.isFull {
            let ticket = cache.warmTicket()
            let wanted = min(pageSize, limit - warmed)
            let rows: [StockRow]
            do {
                rows = try await source.levelsInKeyOrder(after: after, limit: wanted)
            } catch {
                if !Task.isCancelled {
                    logger.warning("cache warm stopped: reads fill the cache as they come", metadata: ["error": "\(error)", "warmed": "\(warmed)"])
                }
                return
            }
            guard !Task.isCancelled, let last = rows.last else { break }
            let inserted = cache.warm(rows, ticket: ticket)
            warmed += inserted
            state.withLock {
                $0.warmed += inserted
                $0.read += rows.count
            }
            Self.warmedEntries.increment(by: inserted)
            after = StockKey(storeID: last.storeID, productID: last.productID)
            if rows.count < wanted { break }
            // Between pages: the requests of a node that has just started come first.
            await Task.yield()
        }
        let took = ContinuousClock.now - start
        let millis = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
        logger.info(Task.isCancelled ? "cache warm stopped by shutdown" : "cache warmed",
                    metadata: ["levels": "\(warmed)", "milliseconds": "\(millis)"])
    }
}
