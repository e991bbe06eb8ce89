public import BazaarDomain
import BazaarForecasting
import Foundation

/// Stock intelligence for one node: demand history from the daily demand rows kept beside the ledger, dynamic
/// thresholds (recomputed by `IntelligencePass` in store-sized batches), alerts with their lifecycle, and
/// replenishment and transfer suggestions.
public final class IntelligenceService: Sendable {
    public static let historyDays: Int64 = 180
    /// Days of demand the thresholds' spans are read from (`Thresholds.forService`): a year, so that every season
    /// is among them, the previous peak included; the forecast keeps its `historyDays`. Measured on the shipped
    /// data, whose held-out weeks are the pre-Christmas peak: for fill-rate targets of 90/95/98%, spans of the last
    /// 180 periods served 86/91/93%, spans of a year 94/96/97% (BENCHMARKS.md).
    public static let spanHistoryDays = Int64(EmpiricalSpanDemand.yearOfPeriods)
    /// Daily data has a weekly rhythm.
    public static let season = 7
    /// How long this node trusts thresholds it read or computed before reading them again (the pass may run on
    /// another node).
    static let cacheTTLMillis: Int64 = 30_000

    let store: any StockStore
    /// Demand history (never the ledger) and the pass's storage: the same engine as `store`.
    let demandStore: any DemandStore & IntelligencePassStore
    public let clock: WallClock
    /// Thresholds older than this are recomputed by the pass (the schedule); a demand anomaly marks them due at once.
    let recomputeAfterMillis: Int64
    let forecaster = TieredForecaster(season: season)
    let cache = Locked(ThresholdCache())
    /// Active alert kinds per store x product as last read or written here. Most movements change no alert, so
    /// this spares a database read per movement; entries expire so changes made elsewhere are picked up.
    let activeKinds = Locked<[StockKey: (kinds: Set<AlertKind>, atMillis: Int64)]>([:])
    static let activeKindsTTLMillis: Int64 = 10_000

    /// The row's current level (its reserved and incoming stock) for an alert's inventory position: at least
    /// `minimumVersion` (the movement evaluated) when the source can tell, so that a level held in memory that trails
    /// the movement is passed over for storage.
    public typealias LevelSource = @Sendable (_ storeID: String, _ productID: String, _ minimumVersion: Int64) async throws -> StockLevel?
    let currentLevel: LevelSource

    /// `demand` defaults to `store` itself (both engines keep the daily demand rows). `currentLevel` defaults to a
    /// read of storage. A node passes the level it holds in memory first (its cache),
    /// so that evaluating a movement of an item with thresholds costs no database round trip when the level is
    /// held: with a replica read each, one node's alert consumer evaluated ~3,400 movements/s and fell behind a
    /// 6,000/s write load (issue 15).
    public init(store: any StockStore, demand: (any DemandStore & IntelligencePassStore)? = nil, clock: WallClock = .system,
                recomputeAfterMillis: Int64 = 3_600_000, currentLevel: LevelSource? = nil) {
        guard let demandStore = demand ?? (store as? any DemandStore & IntelligencePassStore) else {
            preconditionFailure("\(type(of: store)) keeps no daily demand: pass demand:")
        }
        self.store = store
        self.currentLevel = currentLevel ?? { [store] storeID, productID, _ in try await store.level(storeID: storeID, productID: productID) }
        self.demandStore = demandStore
        self.clock = clock
        self.recomputeAfterMillis = recomputeAfterMillis
    }

    // MARK: Demand and thresholds
    public struct DemandSummary: Sendable {
        public var history: [Double]
        public var censoredDays: Int
        public var product: Product?
        /// The same over `spanHistoryDays`: what the thresholds' spans are read from.
        public var spanHistory: [Double]
    }

    /// Units sold per day over the last `historyDays` and `spanHistoryDays` complete days, stock-out days left out.
    public func demand(storeID: String, productID: String) async throws -> DemandSummary {
        let product = try await effectiveProduct(storeID: storeID, productID: productID)
        let (history, censored, spanHistory) = try await histories(storeID: storeID, productID: productID)
        return DemandSummary(history: history, censoredDays: censored, product: product, spanHistory: spanHistory)
    }

    /// One item's daily demand rows of the last year, in one read and one walk (`histories(_:today:)`).
    func histories(storeID: String, productID: String) async throws -> (history: [Double], censoredDays: Int, spanHistory: [Double]) {
        let today = RFC3339.epochDay(millis: clock.nowMillis())
        let days = try await demandStore.demandDays(storeID: storeID, productID: productID, sinceDay: today - Self.spanHistoryDays)
        return Self.histories(days, today: today)
    }

    /// Thresholds from a demand history: the one forecast of this store x product (what `Thresholds.from` does),
    /// kept whole so that `GET .../forecast` answers its model and interval from the stored row instead of fitting
    /// again. `forcing` the fast tier never fits a model.
    /// `spanHistory`: the longer history the thresholds' spans are read from (`spanHistoryDays`; `history` if nil).
    func compute(history: [Double], censoredDays: Int, parameters: ReplenishmentParameters, nowMillis: Int64,
                 forcing: TieredForecaster.Tier? = nil, spanHistory: [Double]? = nil) -> (thresholds: StockThresholds, tier: TieredForecaster.Tier) {
        let fit = history.isEmpty ? nil : forecaster.forecast(history, horizon: 1, forcing: forcing)
        let dispersion = Thresholds.dispersion(history)
        let computed = Thresholds.forService(history: spanHistory ?? history, rate: fit?.forecast.point[0] ?? 0, dispersion: dispersion,
                                  parameters: parameters)
        let anomalyAbove = history.count < 14
            ? Double.greatestFiniteMagnitude
            : max(3, Intervals.countQuantile(mean: computed.rate, dispersion: dispersion, p: 0.999))
        let thresholds = StockThresholds(
            dailyRate: computed.rate, reorderPoint: computed.reorderPoint, orderUpTo: computed.orderUpTo,
            leadTimeDays: parameters.leadTime, anomalyAbove: anomalyAbove, historyDays: history.count, computedAtMillis: nowMillis,
            model: fit?.forecast.model, demandClass: fit?.forecast.demandClass.rawValue, censoredDays: censoredDays, dispersion: dispersion,
            dailyLow: fit.map { max(0, $0.forecast.lower[0]) } ?? 0, dailyHigh: fit?.forecast.upper[0] ?? 0,
            target: Self.target(parameters), lowStockLevel: computed.lowStockLevel, reviewPeriodDays: parameters.reviewPeriod)
        return (thresholds, fit?.tier ?? .fast)
    }

    static func target(_ p: ReplenishmentParameters) -> ReplenishmentTarget {
        p.fillRate.map(ReplenishmentTarget.fillRate) ?? .serviceLevel(p.serviceLevel)
    }

    /// The thresholds alerts are measured against: what this node or the store holds, whatever its age
    /// (`IntelligencePass` keeps them fresh), and for an item never evaluated a fast computation from its daily
    /// demand, so that evaluating a movement never fits a model. Where the item's demand calls for the automatic
    /// choice, that provisional row is stored as already due, and the pass replaces it. It is stored only where no
    /// row is yet: one written since this read (the pass, a settings PUT on another node) stays, and is answered.
    public func thresholds(storeID: String, productID: String) async throws -> StockThresholds {
        let key = StockKey(storeID: storeID, productID: productID)
        let now = clock.nowMillis()
        let (cached, ticket) = cache.withLock { ($0[key], $0.ticket) }
        if let cached, now - cached.atMillis < Self.cacheTTLMillis { return cached.thresholds }
        if let stored = try await store.thresholds(storeID: storeID, productID: productID) {
            remember(key, stored, ticket: ticket, at: now)
            return stored
        }
        let demand = try await demand(storeID: storeID, productID: productID)
        var thresholds = firstThresholds(history: demand.history, censoredDays: demand.censoredDays, parameters: Self.parameters(demand.product),
                                         spanHistory: demand.spanHistory, nowMillis: now)
        if try await demandStore.saveThresholds([(productID, thresholds, expectedComputedAt: nil)], storeID: storeID) == 0,
            let written = try await store.thresholds(storeID: storeID, productID: productID) {
            thresholds = written
        }
        remember(key, thresholds, ticket: ticket, at: now)
        return thresholds
    }

    /// An item's first thresholds, computed when a movement of it is first evaluated: the fast tier, never a fit, and
    /// provisional (stored as already due, for the pass to replace) where its demand calls for the automatic choice.
    func firstThresholds(history: [Double], censoredDays: Int, parameters: ReplenishmentParameters, spanHistory: [Double],
                         nowMillis now: Int64) -> StockThresholds {
        var (thresholds, tier) = compute(history: history, censoredDays: censoredDays, parameters: parameters, nowMillis: now,
                                         forcing: .fast, spanHistory: spanHistory)
        if forecaster.tier(history).tier == .automatic, tier == .fast { thresholds.computedAtMillis = now - recomputeAfterMillis }
        return thresholds
    }

    /// A `computedAtMillis` that makes a row due (at most 0: older than any schedule) and names the write that set
    /// it. The writers of a row compare and set on `computedAtMillis`; with one mark for every due row, a writer
    /// holding one due row would take another, written since with other parameters, for it, and write its older
    /// target back (a settings PUT's service level lost to a fill rate, met in CI). Random: nodes share no counter.
    public static func dueMarker() -> Int64 { -Int64.random(in: 1...(1 << 52)) }

    // MARK: Recompute pass
    /// What one store's recompute did.
    public struct StoreRecompute: Sendable, Equatable {
        /// Items of the store.
        public var items = 0
        /// Items evaluated (due).
        public var evaluated = 0
        /// Of those, fitted with the automatic choice.
        public var automatic = 0
    }

    /// The store's items that are due (see `RecomputeCandidate.isDue`), and with `computedBefore` every item whose
    /// thresholds were computed before that time (a full pass: each item once, however many walkers share it).
    public func dueItems(storeID: String, computedBefore: Int64? = nil) async throws -> [RecomputeCandidate] {
        Self.due(try await demandStore.recomputeCandidates(storeID: storeID), nowMillis: clock.nowMillis(),
                 recomputeAfterMillis: recomputeAfterMillis, computedBefore: computedBefore)
    }

    static func due(_ candidates: [RecomputeCandidate], nowMillis: Int64, recomputeAfterMillis: Int64, computedBefore: Int64?) -> [RecomputeCandidate] {
        candidates.filter { item in
            if let before = computedBefore, (item.computedAtMillis ?? .min) < before { return true }
            return item.isDue(nowMillis: nowMillis, recomputeAfterMillis: recomputeAfterMillis)
        }
    }

    /// Recomputes the thresholds of a store's due items (see `dueItems`) from their daily demand rows: a few
    /// queries for the whole store (its items, their demand rows, one transaction of thresholds), never the ledger.
    /// Stops early, keeping what it computed, when `shouldStop` answers true (a graceful shutdown).
    public func recompute(storeID: String, computedBefore: Int64? = nil, shouldStop: @Sendable () -> Bool = { false }) async throws -> StoreRecompute {
        // The clock first: a product changed after the candidates were read is then changed after `now`, and the
        // item, computed with its old parameters, is due again.
        let now = clock.nowMillis()
        let candidates = try await demandStore.recomputeCandidates(storeID: storeID)
        let due = Self.due(candidates, nowMillis: now, recomputeAfterMillis: recomputeAfterMillis, computedBefore: computedBefore)
        var result = StoreRecompute(items: candidates.count)
        guard !due.isEmpty else { return result }
        let today = RFC3339.epochDay(millis: now)
        // Most of the store: read its rows whole (one range); a few items: only theirs. A year: the thresholds' spans.
        let rows = try await demandStore.demandDays(storeID: storeID, productIDs: due.count * 2 > candidates.count ? nil : due.map(\.productID),
                                                    sinceDay: today - Self.spanHistoryDays)
        var byProduct: [String: [DemandDay]] = [:]
        for row in rows { byProduct[row.productID, default: []].append(row) }
        var computed: [(productID: String, thresholds: StockThresholds, expectedComputedAt: Int64?)] = []
        computed.reserveCapacity(due.count)
        for item in due {
            if shouldStop() { break }
            let (history, censored, spans) = Self.histories(byProduct[item.productID] ?? [], today: today)
            let (thresholds, tier) = compute(history: history, censoredDays: censored, parameters: item.parameters, nowMillis: now, spanHistory: spans)
            if tier == .automatic { result.automatic += 1 }
            computed.append((item.productID, thresholds, item.computedAtMillis))
        }
        guard !computed.isEmpty else { return result }
        // Thresholds written since the candidates were read (an alert's first evaluation, an override) are kept.
        let written = try await demandStore.saveThresholds(computed, storeID: storeID)
        cache.withLock { cache in for (productID, _, _) in computed { cache.invalidate(StockKey(storeID: storeID, productID: productID)) } }
        result.evaluated = written
        IntelligenceMetrics.pairsEvaluated(written)
        return result
    }

    /// A page of the store ids the pass walks (stores with stock rows), after `after`.
    public func demandStoreIDs(after: String?, limit: Int = 200) async throws -> [String] {
        try await demandStore.passStoreIDs(afterStoreID: after, limit: limit)
    }

    /// When the oldest stored thresholds were computed.
    public func oldestThresholdMillis() async throws -> Int64? { try await demandStore.oldestThresholdMillis() }

    /// Units sold net of returns per store per day over the last `days` complete days and today (`days` <= 90),
    /// for a page of stores, from the daily demand rows in one query: every store of `storeIDs` gets `days + 1`
    /// points, oldest first, zero where nothing was sold.
    public func storeTrends(storeIDs: [String], days: Int) async throws -> StoreTrends {
        guard (1...OverviewQuery.maxTrendDays).contains(days) else {
            throw DomainError.invalid(field: "days", message: "must be from 1 to \(OverviewQuery.maxTrendDays) (got \(days))")
        }
        // One reading of the clock names both the window's first day and the rows read: two could straddle midnight.
        let today = RFC3339.epochDay(millis: clock.nowMillis())
        let first = today - Int64(days)
        var trends = Dictionary(uniqueKeysWithValues: storeIDs.map { ($0, [Int64](repeating: 0, count: days + 1)) })
        guard !storeIDs.isEmpty else { return StoreTrends(firstEpochDay: first, units: trends) }
        for point in try await demandStore.storeDemandTrend(storeIDs: storeIDs, sinceDay: first) where point.day <= today {
            trends[point.storeID]?[Int(point.day - first)] = point.units
        }
        return StoreTrends(firstEpochDay: first, units: trends)
    }

    /// The product's replenishment parameters with the store's overrides applied.
    public func effectiveProduct(storeID: String, productID: String) async throws -> Product? {
        guard let product = try await store.product(id: productID) else { return nil }
        return try await store.replenishmentOverride(storeID: storeID, productID: productID)?.applied(to: product) ?? product
    }

    static func parameters(_ product: Product?) -> ReplenishmentParameters {
        ReplenishmentParameters(
            leadTime: product?.leadTimeDays ?? Product.defaultLeadTimeDays, reviewPeriod: product?.reviewPeriodDays ?? Product.defaultReviewPeriodDays,
            packSize: product?.packSize ?? Product.defaultPackSize, serviceLevel: product?.serviceLevel ?? Product.defaultServiceLevel,
            fillRate: product?.fillRate)
    }

    /// Caches what a read or computation that began at `ticket` found, unless the key was invalidated since.
    func remember(_ key: StockKey, _ thresholds: StockThresholds, ticket: UInt64, at millis: Int64? = nil) {
        let at = millis ?? clock.nowMillis()
        cache.withLock { $0.install(key, (thresholds, at), ticket: ticket) }
    }

    /// What the engine last computed for one store x product (thresholds and the forecast behind them), or nil when
    /// it has not evaluated the item yet. One read, nothing computed: what `GET .../forecast` answers, so that a
    /// reader's request costs a row read, never a fit over 180 days of ledger.
    public func stored(storeID: String, productID: String) async throws -> StockThresholds? {
        try await store.thresholds(storeID: storeID, productID: productID)
    }
}
