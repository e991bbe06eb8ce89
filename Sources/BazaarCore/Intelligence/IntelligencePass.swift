import BazaarDomain
public import Logging
import Metrics
public import ServiceLifecycle

/// The intelligence's metrics (exported on `/metrics` with the others). Made at each use, not kept: one made before
/// the metrics system is bootstrapped (a test, a tool) would stay a no-op for good; the factory hands back the same
/// series for a label.
public enum IntelligenceMetrics {
    /// `bazaar_intelligence_pairs_evaluated_total`: store x product thresholds computed by the recompute pass.
    static func pairsEvaluated(_ count: Int) {
        Counter(label: "bazaar_intelligence_pairs_evaluated_total").increment(by: count)
    }

    /// `bazaar_intelligence_oldest_threshold_age_seconds`: how long ago the oldest stored thresholds were computed
    /// (as of the pass's last walk; 0 when none are stored).
    static func oldestThresholdAge(seconds: Double) {
        Gauge(label: "bazaar_intelligence_oldest_threshold_age_seconds").record(seconds)
    }
}

/// The recompute pass (issue 14): walks every store with stock rows, in id order, and recomputes the thresholds of
/// its due items (`RecomputeCandidate.isDue`: never evaluated, older than `intelligence.recompute_seconds`,
/// parameters changed, or moved since and a day has ended) from the daily demand rows: a store is one batch, a
/// few queries whatever its size. Fast methods for slow movers, the automatic choice where it pays
/// (`TieredForecaster`).
///
/// Nodes share the work by a lease per store in the database: a node takes a store's lease before evaluating it
/// and gives it back after, so two nodes never evaluate one store at once; a store finished by one node is not due
/// any more when the other reaches it (it costs that node one read). A node that dies holding a lease delays its
/// store by at most `leaseMillis`. Shutdown stops between stores and within one (what was computed is saved).
public struct IntelligencePass: Service {
    let intelligence: IntelligenceService
    let store: any IntelligencePassStore
    let logger: Logger
    /// Pause between two walks over the stores.
    let interval: Duration
    let leaseMillis: Int64
    /// This node's name in leases.
    let holder: String
    let pageSize: Int

    public init(intelligence: IntelligenceService, logger: Logger, interval: Duration = .seconds(60), leaseMillis: Int64 = 120_000,
                holder: String = "node-" + String(UInt64.random(in: 0...UInt64.max), radix: 16), pageSize: Int = 200) {
        self.intelligence = intelligence
        self.store = intelligence.demandStore
        self.logger = logger
        self.interval = interval
        self.leaseMillis = leaseMillis
        self.holder = holder
        self.pageSize = pageSize
    }

    /// What one walk over the stores did.
    public struct Walk: Sendable, Equatable {
        public var stores = 0
        /// Stores another node held (skipped).
        public var leasedElsewhere = 0
        public var items = 0
        public var evaluated = 0
        public var automatic = 0
        /// Stores whose evaluation failed (retried by the next walk).
        public var failed = 0
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let walk = try await walkOnce()
                if walk.evaluated > 0 {
                    logger.info("intelligence pass", metadata: ["stores": "\(walk.stores)", "evaluated": "\(walk.evaluated)",
                                                                "automatic": "\(walk.automatic)", "leased_elsewhere": "\(walk.leasedElsewhere)"])
                }
            } catch {
                logger.warning("intelligence pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One walk over every store: the due items of each store not leased by another node. With `computedBefore`,
    /// also every item computed before that time (the CLI's full pass: walkers given the same time evaluate each
    /// item once between them). `onStore` sees each store's outcome (progress reports).
    public func walkOnce(computedBefore: Int64? = nil,
                         onStore: @Sendable (String, IntelligenceService.StoreRecompute) -> Void = { _, _ in }) async throws -> Walk {
        var walk = Walk()
        var after: String?
        let stop: @Sendable () -> Bool = { Task.isShuttingDownGracefully || Task.isCancelled }
        while !stop() {
            let page = try await store.passStoreIDs(afterStoreID: after, limit: pageSize)
            for storeID in page {
                if stop() { break }
                walk.stores += 1
                do {
                    // Read first, lease only when there is work: a walk over a chain that is up to date writes nothing.
                    if try await intelligence.dueItems(storeID: storeID, computedBefore: computedBefore).isEmpty { continue }
                    guard try await store.claimPass(storeID: storeID, holder: holder, nowMillis: intelligence.clock.nowMillis(),
                                                    leaseMillis: leaseMillis) else {
                        walk.leasedElsewhere += 1
                        continue
                    }
                    let outcome: Result<IntelligenceService.StoreRecompute, any Error>
                    do { outcome = .success(try await intelligence.recompute(storeID: storeID, computedBefore: computedBefore, shouldStop: stop)) } catch { outcome = .failure(error) }
                    // Given back either way (a failed release just expires).
                    try? await store.finishPass(storeID: storeID, holder: holder, nowMillis: intelligence.clock.nowMillis())
                    let done = try outcome.get()
                    walk.items += done.items
                    walk.evaluated += done.evaluated
                    walk.automatic += done.automatic
                    onStore(storeID, done)
                } catch {
                    // One store's failure (a deadlock, a lost connection) does not stop the walk; the next walk retries it.
                    walk.failed += 1
                    logger.warning("intelligence pass: a store failed", metadata: ["store_id": "\(storeID)", "error": "\(error)"])
                }
            }
            guard page.count == pageSize, let last = page.last else { break }
            after = last
        }
        let now = intelligence.clock.nowMillis()
        let oldest = try await store.oldestThresholdMillis()
        IntelligenceMetrics.pairsEvaluated(0)  // exported from the first walk on, even when nothing was due
        IntelligenceMetrics.oldestThresholdAge(seconds: oldest.map { Double(max(0, now - $0)) / 1000 } ?? 0)
        return walk
    }
}
