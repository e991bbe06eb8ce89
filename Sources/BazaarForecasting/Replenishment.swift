/// Replenishment parameters of one store x product.
public struct ReplenishmentParameters: Sendable, Equatable {
    /// Periods from ordering to receiving.
    public var leadTime: Int
    /// Periods between reviews (orders are placed only on review periods).
    public var reviewPeriod: Int
    /// Orders are rounded up to a multiple of this.
    public var packSize: Int
    /// Target probability of not running out within a replenishment cycle (the cycle service level): what the
    /// thresholds use unless `fillRate` is set.
    public var serviceLevel: Double
    /// Target share of demand served from stock (the fill rate), instead of the cycle service level: nil to use
    /// `serviceLevel`. See `Thresholds`.
    public var fillRate: Double?

    public init(leadTime: Int, reviewPeriod: Int, packSize: Int = 1, serviceLevel: Double = 0.95, fillRate: Double? = nil) {
        self.leadTime = leadTime
        self.reviewPeriod = reviewPeriod
        self.packSize = packSize
        self.serviceLevel = serviceLevel
        self.fillRate = fillRate
    }
}

/// Dynamic thresholds from a demand forecast. Demand over a span is modelled as a count with the forecast
/// rate as its mean and the series' variance-to-mean ratio (negative binomial; Poisson without over-dispersion),
/// so intermittent items get sensible, integer thresholds instead of normal-theory ones.
///
/// Two targets. By default a cycle service level: the reorder point is the `serviceLevel` quantile of lead-time
/// demand, so that share of replenishment cycles has no stock-out, and the order-up-to level that of lead time +
/// review period. With `fillRate` set, a share of demand, sized for a store that orders at its reviews
/// (`FillRateSizing`): the order-up-to level S is the smallest whose expected shortage in a cycle,
/// E[(D(L+R) - S)+] - E[(D(L) - S)+], is at most (1 - fillRate) x a review period's expected demand, and the
/// reorder point is S - 1: every review that finds the position below S orders up to it (a base-stock policy; the
/// target was calibrated that way, and an (s, S) gap would serve more than asked with more stock).
public struct Thresholds: Sendable, Equatable {
    /// Expected demand per period.
    public var rate: Double
    /// Order when the inventory position is at or below this: the service-level quantile of lead-time demand (with
    /// a fill-rate target, one below `orderUpTo`).
    public var reorderPoint: Double
    /// Order up to this: the service-level quantile of demand over lead time + review period (with a fill-rate
    /// target, the base-stock level of `FillRateSizing`).
    public var orderUpTo: Double
    /// reorderPoint minus expected lead-time demand.
    public var safetyStock: Double
    /// Below this the shelf is low (`Thresholds.lowStock`): set by `forService`, nil from the other constructors.
    public var lowStockLevel: Double? = nil

    public init(rate: Double, dispersion: Double, parameters p: ReplenishmentParameters) {
        self.rate = max(0, rate)
        // Summed as doubles: two Int settings near Int.max would overflow.
        let lead = Double(max(0, p.leadTime)), cycle = lead + Double(max(1, p.reviewPeriod))
        if let fillRate = p.fillRate {
            let budget = FillRateSizing.shortageBudget(fillRate: fillRate, rate: self.rate, reviewPeriod: p.reviewPeriod)
            orderUpTo = CountDistribution.orderUpTo(cycle: CountDistribution(mean: self.rate * cycle, dispersion: dispersion),
                                                    lead: CountDistribution(mean: self.rate * lead, dispersion: dispersion), shortageAtMost: budget)
            reorderPoint = max(0, orderUpTo - 1)
        } else {
            reorderPoint = Intervals.countQuantile(mean: self.rate * lead, dispersion: dispersion, p: p.serviceLevel)
            orderUpTo = max(reorderPoint, Intervals.countQuantile(mean: self.rate * cycle, dispersion: dispersion, p: p.serviceLevel))
        }
        safetyStock = reorderPoint - self.rate * lead
    }

    /// Levels set by a caller; `safetyStock` follows from them.
    init(rate: Double, reorderPoint: Double, orderUpTo: Double, leadTime: Int) {
        self.rate = rate
        self.reorderPoint = reorderPoint
        self.orderUpTo = orderUpTo
        safetyStock = reorderPoint - rate * Double(leadTime)
    }

    /// From a history of demand per period: the automatic forecast's rate and the recent dispersion.
    public static func from(history y: [Double], season: Int, parameters: ReplenishmentParameters) -> Thresholds {
        let rate = y.isEmpty ? 0 : AutoForecaster(season: season).forecast(y, horizon: 1).point[0]
        return Thresholds(rate: rate, dispersion: dispersion(y), parameters: parameters)
    }

    /// Thresholds read off the history instead of a fitted distribution: the reorder point is the service-level
    /// quantile of the demand totals of every lead-time span of the last year, the order-up-to level that of every
    /// lead time + review span (`EmpiricalSpanDemand`); with `fillRate`, the fill-rate base-stock level over the
    /// same spans (`HistoryCycleDemand`, `FillRateSizing`): what the service uses for a fill-rate target. Spans carry what
    /// a count distribution with one rate misses: orders that come together, promotions, the previous peak season.
    /// A history too short to read them from (about two months) gets the count-distribution thresholds of
    /// `init(rate:dispersion:parameters:)`; `rate` stays the forecast's, for days of cover and the order size.
    public static func fromHistoryQuantiles(history y: [Double], rate: Double, parameters p: ReplenishmentParameters) -> Thresholds {
        if let fillRate = p.fillRate {
            // The spans first: the count distribution's level is only the fallback (building its loss tables for
            // nothing made the service's pass a third slower).
            guard let spans = HistoryCycleDemand(history: y, leadTime: p.leadTime, reviewPeriod: p.reviewPeriod) else {
                return Thresholds(rate: rate, dispersion: dispersion(y), parameters: p)
            }
            let r = max(0, rate)
            let level = spans.orderUpTo(shortageAtMost: FillRateSizing.shortageBudget(fillRate: fillRate, rate: r, reviewPeriod: p.reviewPeriod))
            return Thresholds(rate: r, reorderPoint: max(0, level - 1), orderUpTo: level, leadTime: min(max(0, p.leadTime), 1 << 40))
        }
        var t = Thresholds(rate: rate, dispersion: dispersion(y), parameters: p)
        // Clamped so that a hostile setting cannot overflow the sum; a span longer than the history answers nil.
        let lead = min(max(0, p.leadTime), 1 << 40), cycle = lead + min(max(1, p.reviewPeriod), 1 << 40)
        guard let overCycle = EmpiricalSpanDemand(history: y, span: cycle) else { return t }
        let overLead = lead > 0 ? EmpiricalSpanDemand(history: y, span: lead) : nil
        func level(_ d: EmpiricalSpanDemand?) -> Double { d?.quantile(p.serviceLevel) ?? 0 }
        t.reorderPoint = level(overLead)
        t.orderUpTo = max(t.reorderPoint, level(overCycle))
        t.safetyStock = t.reorderPoint - t.rate * Double(lead)
        return t
    }

    /// Variance-to-mean ratio of the recent history (at least 1).
    public static func dispersion(_ y: [Double]) -> Double {
        let recent = Array(y.suffix(84))
        guard recent.count > 1 else { return 1 }
        let mean = recent.reduce(0, +) / Double(recent.count)
        let variance = recent.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(recent.count - 1)
        return mean > 0 ? max(1, variance / mean) : 1
    }

    /// Periods the stock on hand lasts at the expected rate (nil when nothing is expected to sell).
    public func daysOfCover(onHand: Double) -> Double? { rate > 0 ? max(0, onHand) / rate : nil }

    /// The order to place now: up to the order-up-to level, rounded up to the pack size, when the inventory
    /// position (on hand + on order) is at or below the reorder point; else nothing.
    public func orderQuantity(onHand: Double, onOrder: Double, packSize: Int) -> Int {
        let position = onHand + onOrder
        guard position <= reorderPoint, orderUpTo > position else { return 0 }
        let pack = Double(max(1, packSize))
        return Int(((orderUpTo - position) / pack).rounded(.up) * pack)
    }
}

/// Replays demand through a periodic-review (s, S) policy with lost sales: what a store would have seen.
public struct InventorySimulation: Sendable {
    public struct Result: Sendable, Equatable {
        public var demand: Double
        public var served: Double
        public var stockOutPeriods: Int
        public var averageInventory: Double
        public var orders: Int
        public var fillRate: Double { demand > 0 ? served / demand : 1 }
    }

    /// Starts with `initialStock` on hand; orders placed at the end of a review period arrive `leadTime` periods later.
    public static func run(demand: [Double], reorderPoint: Double, orderUpTo: Double, parameters p: ReplenishmentParameters,
                           initialStock: Double) -> Result {
        var onHand = initialStock
        var arrivals = [Int: Double]()
        var served = 0.0, inventory = 0.0
        var stockOuts = 0, orders = 0
        for (t, d) in demand.enumerated() {
            onHand += arrivals.removeValue(forKey: t) ?? 0
            let sold = min(onHand, d)
            if d > onHand { stockOuts += 1 }
            onHand -= sold
            served += sold
            inventory += onHand
            if (t + 1) % max(1, p.reviewPeriod) == 0 {
                let onOrder = arrivals.values.reduce(0, +)
                let position = onHand + onOrder
                if position <= reorderPoint, orderUpTo > position {
                    let pack = Double(max(1, p.packSize))
                    arrivals[t + 1 + p.leadTime, default: 0] += ((orderUpTo - position) / pack).rounded(.up) * pack
                    orders += 1
                }
            }
        }
        return Result(demand: demand.reduce(0, +), served: served, stockOutPeriods: stockOuts,
                      averageInventory: demand.isEmpty ? 0 : inventory / Double(demand.count), orders: orders)
    }
}
