public import BazaarDomain
import BazaarForecasting

/// A store's replenishment settings: overrides of the product's parameters, and the thresholds re-derived for them.
extension IntelligenceService {
    /// Saves a store's overrides, marking the stored thresholds due, and re-derives them for the new parameters
    /// (`reDerive`). Rows without a stored dispersion (written by an earlier version) stay due, and the pass
    /// recomputes them.
    public func setOverride(_ override: ReplenishmentOverride, storeID: String, productID: String) async throws {
        guard let product = try await store.product(id: productID) else { throw DomainError.unknownProduct(productID) }
        try CatalogRules.validateOneTarget(serviceLevel: override.serviceLevel, fillRate: override.fillRate)
        let effective = override.applied(to: product)
        try CatalogRules.validateReplenishment(leadTimeDays: effective.leadTimeDays, reviewPeriodDays: effective.reviewPeriodDays,
                                               packSize: effective.packSize, serviceLevel: effective.serviceLevel)
        try CatalogRules.validateFillRate(effective.fillRate)
        let marker = Self.dueMarker()
        try await store.saveReplenishmentOverride(override, storeID: storeID, productID: productID, dueMarker: marker)
        cache.withLock { $0.invalidate(StockKey(storeID: storeID, productID: productID)) }
        _ = try await reDerive(storeID: storeID, productID: productID, override: override, dueMarker: marker)
    }

    /// The second half of `setOverride`: re-derives the stored thresholds for the parameters `override` sets, from
    /// the stored forecast (its rate and dispersion) and the item's daily demand rows (its spans), quantiles only,
    /// no fit. Only while the row still carries `dueMarker`, the mark the override's own write set: a row written
    /// since (another node's PUT, the pass reading the newer parameters) stays. Answers whether it wrote.
    public func reDerive(storeID: String, productID: String, override: ReplenishmentOverride, dueMarker: Int64) async throws -> Bool {
        guard let product = try await store.product(id: productID),
            var stored = try await store.thresholds(storeID: storeID, productID: productID),
            stored.computedAtMillis == dueMarker, let dispersion = stored.dispersion
        else { return false }
        let parameters = Self.parameters(override.applied(to: product))
        let history = try await histories(storeID: storeID, productID: productID).spanHistory
        let derived = Thresholds.forService(history: history, rate: stored.dailyRate, dispersion: dispersion, parameters: parameters)
        stored.reorderPoint = derived.reorderPoint
        stored.orderUpTo = derived.orderUpTo
        stored.lowStockLevel = derived.lowStockLevel
        stored.leadTimeDays = parameters.leadTime
        stored.reviewPeriodDays = parameters.reviewPeriod
        stored.target = Self.target(parameters)
        let key = StockKey(storeID: storeID, productID: productID)
        guard try await demandStore.saveThresholds([(productID, stored, expectedComputedAt: dueMarker)], storeID: storeID) == 1 else {
            return false
        }
        let now = clock.nowMillis()
        cache.withLock { $0.replace(key, (stored, now)) }
        return true
    }

    /// The replenishment parameters in force for one store x product (the product's, with the store's overrides
    /// applied) and the overrides themselves (nil fields: not overridden).
    public func settings(storeID: String, productID: String) async throws -> (effective: Product, overrides: ReplenishmentOverride) {
        guard let product = try await effectiveProduct(storeID: storeID, productID: productID) else { throw DomainError.unknownProduct(productID) }
        return (product, try await store.replenishmentOverride(storeID: storeID, productID: productID) ?? ReplenishmentOverride())
    }
}
