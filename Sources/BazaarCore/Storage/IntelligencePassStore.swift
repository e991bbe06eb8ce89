public import BazaarDomain

/// What the intelligence's recompute pass (`IntelligencePass`) needs of storage: the stores to walk, each store's
/// items with what decides whether they are due, a lease per store so that two nodes never evaluate one store at
/// once, and the thresholds of a store written in one transaction.
public protocol IntelligencePassStore: Sendable {
    /// Store ids that have stock rows, after `afterStoreID`, in id order.
    func passStoreIDs(afterStoreID: String?, limit: Int) async throws -> [String]
    /// Every stock row of a store with its stored thresholds' age and its effective replenishment parameters.
    func recomputeCandidates(storeID: String) async throws -> [RecomputeCandidate]
    /// Writes the thresholds of some items of one store in one transaction, each only if the stored row is still the
    /// one its writer read (`expectedComputedAt`: its `computedAtMillis`, nil for none): thresholds written meanwhile (an
    /// alert's first evaluation, an override, the pass on another node) are not overwritten. Every writer goes through
    /// it; a due row's `computedAtMillis` names the write that marked it (`IntelligenceService.dueMarker`), so that
    /// two due rows are never taken for one another. Returns how many were written.
    @discardableResult
    func saveThresholds(_ rows: [(productID: String, thresholds: StockThresholds, expectedComputedAt: Int64?)], storeID: String) async throws -> Int
    /// Takes the store's lease for `holder` until `nowMillis + leaseMillis` when nobody else holds it unexpired:
    /// true when taken (or renewed).
    func claimPass(storeID: String, holder: String, nowMillis: Int64, leaseMillis: Int64) async throws -> Bool
    /// Gives the lease back (only `holder`'s).
    func finishPass(storeID: String, holder: String, nowMillis: Int64) async throws
    /// When the oldest stored thresholds were computed (nil when none are stored). Rows marked due (computed at
    /// or before 0: a demand anomaly, an override) are left out: the next walk recomputes them whatever the age says.
    func oldestThresholdMillis() async throws -> Int64?
}

/// One store x product as the recompute pass sees it.
public struct RecomputeCandidate: Sendable, Equatable {
    public var productID: String
    /// When its stored thresholds were computed; nil when it has none.
    public var computedAtMillis: Int64?
    /// When its stock row last changed (every movement writes it).
    public var levelUpdatedAtMillis: Int64
    /// When the product's parameters last changed (nil when the product is not in the catalog).
    public var productUpdatedAtMillis: Int64?
    /// The product's parameters with the store's overrides applied; nil fields fall back to the defaults.
    public var leadTimeDays: Int?
    public var reviewPeriodDays: Int?
    public var packSize: Int?
    public var serviceLevel: Double?
    /// The fill-rate target in force, if any (then it, not `serviceLevel`, sizes the thresholds).
    public var fillRate: Double?
    /// What the stored thresholds were sized for: their target (nil in rows written before targets were kept, and
    /// when there are none), lead time and review period (nil in rows written before it was kept).
    public var sizedForTarget: ReplenishmentTarget?
    public var sizedForLeadTimeDays: Int?
    public var sizedForReviewPeriodDays: Int?

    public init(productID: String, computedAtMillis: Int64?, levelUpdatedAtMillis: Int64, productUpdatedAtMillis: Int64?,
                leadTimeDays: Int? = nil, reviewPeriodDays: Int? = nil, packSize: Int? = nil, serviceLevel: Double? = nil,
                fillRate: Double? = nil, sizedForTarget: ReplenishmentTarget? = nil, sizedForLeadTimeDays: Int? = nil,
                sizedForReviewPeriodDays: Int? = nil) {
        self.sizedForTarget = sizedForTarget
        self.sizedForLeadTimeDays = sizedForLeadTimeDays
        self.sizedForReviewPeriodDays = sizedForReviewPeriodDays
        self.productID = productID
        self.computedAtMillis = computedAtMillis
        self.levelUpdatedAtMillis = levelUpdatedAtMillis
        self.productUpdatedAtMillis = productUpdatedAtMillis
        self.leadTimeDays = leadTimeDays
        self.reviewPeriodDays = reviewPeriodDays
        self.packSize = packSize
        self.serviceLevel = serviceLevel
        self.fillRate = fillRate
    }

    /// Whether the pass evaluates it now: it has no thresholds; or they are marked due (`computedAtMillis` at or
    /// below 0: a demand anomaly, an override) or older than `recomputeAfterMillis`; or the product's parameters
    /// changed since; or they were sized for another target, lead time or review period than the ones in force (a
    /// settings or product PUT that raced a writer holding the older parameters: neither time above can tell); or it
    /// moved since and a day has ended since they were computed (history is complete days only: a movement of today
    /// changes it at midnight).
    public func isDue(nowMillis: Int64, recomputeAfterMillis: Int64) -> Bool {
        guard let computed = computedAtMillis else { return true }
        if computed <= 0 || nowMillis - computed >= recomputeAfterMillis { return true }
        if let product = productUpdatedAtMillis, product > computed { return true }
        if isSizedForOtherParameters { return true }
        return levelUpdatedAtMillis > computed && RFC3339.epochDay(millis: computed) < RFC3339.epochDay(millis: nowMillis)
    }

    /// Whether the stored thresholds were sized for another target, lead time or review period than the parameters
    /// in force (rows that kept no target, or no review period, are not compared on it: they are recomputed on their
    /// schedule). Pack size is not compared: it rounds an order when it is suggested, not the thresholds.
    public var isSizedForOtherParameters: Bool {
        guard let sizedForTarget else { return false }
        let inForce = fillRate.map(ReplenishmentTarget.fillRate) ?? .serviceLevel(serviceLevel ?? Product.defaultServiceLevel)
        if let sizedForReviewPeriodDays, sizedForReviewPeriodDays != (reviewPeriodDays ?? Product.defaultReviewPeriodDays) { return true }
        return sizedForTarget != inForce || sizedForLeadTimeDays != (leadTimeDays ?? Product.defaultLeadTimeDays)
    }
}
