public import BazaarDomain
public import BazaarForecasting
import Foundation

/// Stock intelligence for one node: demand history from the ledger, dynamic thresholds, alerts with their
/// lifecycle, and replenishment and transfer suggestions.
public final class IntelligenceService: Sendable {
    public static let historyDays: Int64 = 180
    /// Daily data has a weekly rhythm.
    public static let season = 7

    let store: any StockStore
    public let clock: WallClock
    /// Thresholds older than this are recomputed when next needed (the schedule); a demand anomaly recomputes at once.
    let recomputeAfterMillis: Int64
    private let cache = Locked<[StockKey: StockThresholds]>([:])
    /// Active alert kinds per store x product as last read or written here. Most movements change no alert, so
    /// this spares a database read per movement; entries expire so changes made elsewhere are picked up.
    private let activeKinds = Locked<[StockKey: (kinds: Set<AlertKind>, atMillis: Int64)]>([:])
    static let activeKindsTTLMillis: Int64 = 10_000

    public init(store: any StockStore, clock: WallClock = .system, recomputeAfterMillis: Int64 = 3_600_000) {
        self.store = store
        self.clock = clock
        self.recomputeAfterMillis = recomputeAfterMillis
    }

    // MARK: Demand and thresholds

    public struct DemandSummary: Sendable {
        public var history: [Double]
        public var censoredDays: Int
        public var product: Product?
    }

    /// Units sold per day over the last `historyDays` complete days, stock-out days left out.
    public func demand(storeID: String, productID: String) async throws -> DemandSummary {
        let now = clock.nowMillis()
        let today = RFC3339.epochDay(millis: now)
        let movements = try await store.movements(storeID: storeID, productID: productID,
                                                  sinceMillis: (today - Self.historyDays) * 86_400_000)
        let firstDay = movements.map { RFC3339.epochDay(millis: $0.atMillis) }.min() ?? today
        let (sold, censored) = DemandHistory.daily(movements, firstDay: firstDay, lastDay: today - 1)
        let history = zip(sold, censored).filter { !$0.1 }.map(\.0)
        return DemandSummary(history: history, censoredDays: censored.filter { $0 }.count,
                             product: try await effectiveProduct(storeID: storeID, productID: productID))
    }

    public func thresholds(storeID: String, productID: String, refresh: Bool = false) async throws -> StockThresholds {
        let key = StockKey(storeID: storeID, productID: productID)
        let now = clock.nowMillis()
        if !refresh {
            if let cached = cache.withLock({ $0[key] }), now - cached.computedAtMillis < recomputeAfterMillis { return cached }
            if let stored = try await store.thresholds(storeID: storeID, productID: productID), now - stored.computedAtMillis < recomputeAfterMillis {
                remember(key, stored)
                return stored
            }
        }
        let demand = try await demand(storeID: storeID, productID: productID)
        let parameters = Self.parameters(demand.product)
        let computed = Thresholds.from(history: demand.history, season: Self.season, parameters: parameters)
        let anomalyAbove = demand.history.count < 14
            ? Double.greatestFiniteMagnitude
            : max(3, Intervals.countQuantile(mean: computed.rate, dispersion: Thresholds.dispersion(demand.history), p: 0.999))
        let thresholds = StockThresholds(
            dailyRate: computed.rate, reorderPoint: computed.reorderPoint, orderUpTo: computed.orderUpTo,
            leadTimeDays: parameters.leadTime, anomalyAbove: anomalyAbove, historyDays: demand.history.count, computedAtMillis: now)
        try await store.saveThresholds(thresholds, storeID: storeID, productID: productID)
        remember(key, thresholds)
        return thresholds
    }

    /// The product's replenishment parameters with the store's overrides applied.
    public func effectiveProduct(storeID: String, productID: String) async throws -> Product? {
        guard let product = try await store.product(id: productID) else { return nil }
        return try await store.replenishmentOverride(storeID: storeID, productID: productID)?.applied(to: product) ?? product
    }

    /// Saves a store's overrides and forgets the thresholds computed with the old parameters.
    public func setOverride(_ override: ReplenishmentOverride, storeID: String, productID: String) async throws {
        try await store.saveReplenishmentOverride(override, storeID: storeID, productID: productID)
        cache.withLock { _ = $0.removeValue(forKey: StockKey(storeID: storeID, productID: productID)) }
    }

    static func parameters(_ product: Product?) -> ReplenishmentParameters {
        ReplenishmentParameters(
            leadTime: product?.leadTimeDays ?? Product.defaultLeadTimeDays, reviewPeriod: product?.reviewPeriodDays ?? Product.defaultReviewPeriodDays,
            packSize: product?.packSize ?? Product.defaultPackSize, serviceLevel: product?.serviceLevel ?? Product.defaultServiceLevel)
    }

    private func remember(_ key: StockKey, _ thresholds: StockThresholds) {
        cache.withLock { cache in
            if cache.count > 200_000 { cache.removeAll() }
            cache[key] = thresholds
        }
    }

    /// The demand forecast of one store x product per day from tomorrow, with the history it came from.
    public func forecast(storeID: String, productID: String, horizon: Int) async throws -> (SeriesForecast, DemandSummary) {
        let demand = try await demand(storeID: storeID, productID: productID)
        let forecast = AutoForecaster(season: Self.season).forecast(demand.history.isEmpty ? [0] : demand.history, horizon: horizon)
        return (forecast, demand)
    }

    // MARK: Alerts

    /// Opens the alerts a committed movement calls for and resolves the level conditions it cleared.
    /// At most one active alert per condition (the store enforces it too, across nodes).
    @discardableResult
    public func evaluate(_ movement: Movement) async throws -> [Alert] {
        let t = try await thresholds(storeID: movement.storeID, productID: movement.productID)
        let levelKinds = AlertRules.levelConditions(quantity: movement.quantityAfter, thresholds: t)
        let eventKinds = AlertRules.eventConditions(movement, thresholds: t)
        let key = StockKey(storeID: movement.storeID, productID: movement.productID)
        if eventKinds.contains(.demandAnomaly) {
            // Demand has shifted: recompute the thresholds on the next movement.
            cache.withLock { _ = $0.removeValue(forKey: key) }
            var stale = t
            stale.computedAtMillis = 0
            try await store.saveThresholds(stale, storeID: movement.storeID, productID: movement.productID)
        }
        let now = clock.nowMillis()
        if let known = self.activeKinds.withLock({ $0[key] }), now - known.atMillis < Self.activeKindsTTLMillis,
            levelKinds.union(eventKinds).isSubset(of: known.kinds), known.kinds.filter(\.isLevelCondition).allSatisfy(levelKinds.contains)
        {
            return []  // nothing to open, nothing to resolve
        }
        let active = try await store.activeAlerts(storeID: movement.storeID, productID: movement.productID)
        let activeKinds = Set(active.map(\.kind))
        let inserted = levelKinds.union(eventKinds).subtracting(activeKinds).sorted { $0.rawValue < $1.rawValue }.map { kind in
            Alert(id: "alr_" + Hex.random(bytes: 10), kind: kind, status: .open, storeID: movement.storeID, productID: movement.productID,
                  quantity: movement.quantityAfter, threshold: Self.threshold(kind, t),
                  message: AlertRules.message(kind, quantity: movement.quantityAfter, thresholds: t), openedAtMillis: now)
        }
        let resolved = active.filter { $0.kind.isLevelCondition && !levelKinds.contains($0.kind) }.map { alert in
            var alert = alert
            alert.status = .resolved
            alert.quantity = movement.quantityAfter
            alert.resolvedAtMillis = now
            return alert
        }
        var recorded: [Alert] = []
        if !inserted.isEmpty || !resolved.isEmpty {
            recorded = try await store.recordAlerts(inserted: inserted, changed: resolved)
        }
        let nowActive = activeKinds.union(inserted.map(\.kind)).subtracting(resolved.map(\.kind))
        self.activeKinds.withLock { cache in
            if cache.count > 200_000 { cache.removeAll() }
            cache[key] = (nowActive, now)
        }
        return recorded
    }

    static func threshold(_ kind: AlertKind, _ t: StockThresholds) -> Double? {
        switch kind {
        case .lowStock: t.reorderPoint
        case .overstock: t.orderUpTo
        case .stockOutRisk: Double(t.leadTimeDays)
        case .demandAnomaly: t.anomalyAbove
        case .stockOut, .negativeStock, .shrinkage: nil
        }
    }

    /// open -> acknowledged (by a person); any active alert -> resolved by hand.
    public func setStatus(alertID: String, to status: AlertStatus, by actor: String) async throws -> Alert {
        guard var alert = try await store.alert(id: alertID) else { throw DomainError.notFound(what: "alert", id: alertID) }
        guard alert.status != .resolved else { throw DomainError.invalid(field: "status", message: "alert \(alertID) is already resolved") }
        let now = clock.nowMillis()
        switch status {
        case .acknowledged:
            guard alert.status == .open else { return alert }
            alert.status = .acknowledged
            alert.acknowledgedAtMillis = now
            alert.acknowledgedBy = actor
        case .resolved:
            alert.status = .resolved
            alert.resolvedAtMillis = now
        case .open:
            throw DomainError.invalid(field: "status", message: "alerts are opened by the system")
        }
        _ = try await store.recordAlerts(inserted: [], changed: [alert])
        activeKinds.withLock { _ = $0.removeValue(forKey: StockKey(storeID: alert.storeID, productID: alert.productID)) }
        return alert
    }

    // MARK: Replenishment

    public struct OrderSuggestion: Sendable {
        public var productID: String
        public var onHand: Int64
        public var thresholds: StockThresholds
        public var packSize: Int
        public var quantity: Int
    }

    public struct TransferSuggestion: Sendable {
        public var productID: String
        public var fromStoreID: String
        public var toStoreID: String
        public var quantity: Int64
    }

    /// What a store should order (up to the order-up-to level, in whole packs) for items at or below their
    /// reorder point, after first moving the excess of other branches (stock above their order-up-to level).
    public func replenishment(storeID: String, limit: Int = 1000) async throws -> (orders: [OrderSuggestion], transfers: [TransferSuggestion]) {
        var orders: [OrderSuggestion] = [], transfers: [TransferSuggestion] = []
        for row in try await store.levels(storeID: storeID, afterProductID: nil, limit: limit) {
            let t = try await thresholds(storeID: storeID, productID: row.productID)
            let packSize = try await effectiveProduct(storeID: storeID, productID: row.productID)?.packSize ?? 1
            var need = Double(Self.shortfall(onHand: row.level.quantity, t))
            guard Double(row.level.quantity) <= t.reorderPoint, need > 0 else { continue }
            // Excess elsewhere first: the branch with the most stock above its own order-up-to level.
            var best: (String, Int64)?
            for other in try await store.levels(productID: row.productID, afterStoreID: nil, limit: 1000) where other.storeID != storeID {
                guard let theirs = try await store.thresholds(storeID: other.storeID, productID: row.productID) else { continue }
                let excess = other.level.quantity - Int64(theirs.orderUpTo.rounded(.up))
                if excess > 0, excess > (best?.1 ?? 0) { best = (other.storeID, excess) }
            }
            if let (from, excess) = best {
                let moved = min(excess, Int64(need.rounded(.up)))
                transfers.append(TransferSuggestion(productID: row.productID, fromStoreID: from, toStoreID: storeID, quantity: moved))
                need -= Double(moved)
            }
            let pack = Double(max(1, packSize))
            let quantity = need > 0 ? Int((need / pack).rounded(.up) * pack) : 0
            orders.append(OrderSuggestion(productID: row.productID, onHand: row.level.quantity, thresholds: t, packSize: packSize, quantity: quantity))
        }
        return (orders, transfers)
    }

    static func shortfall(onHand: Int64, _ t: StockThresholds) -> Int64 {
        max(0, Int64(t.orderUpTo.rounded(.up)) - onHand)
    }
}
