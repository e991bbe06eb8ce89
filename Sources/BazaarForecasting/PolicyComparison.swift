/// Compares Bazaar's forecast-driven thresholds with the static min/max rule on the trade-off that matters to a
/// retailer: how much stock each needs for a given share of demand served.
///
/// One run of each policy is a single point on its own trade-off curve, and two single points cannot be compared:
/// a policy that holds more stock and serves more demand is not better, only elsewhere on the curve (issue 16: on
/// the shipped data the forecast policy served 85.0% from 75.9 units on average, the static rule 69.3% from
/// 31.8). So each policy is swept over its own knob (the forecast policy's cycle service level, the static rule's
/// multiplier of lead-time demand) and the average inventory each needs to reach a fill rate of, say, 95% is read
/// off its curve. Equal fill rate, less inventory: that is the policy that saves money, whatever the holding cost.
public struct PolicyComparison: Sendable {
    /// One series, cut at the forecast origin: the policy is set from `history` and replayed on `future`.
    public struct Item: Sendable {
        public var history: [Double]
        public var future: [Double]
        public init(history: [Double], future: [Double]) {
            self.history = history
            self.future = future
        }
    }

    /// One policy setting replayed over every series.
    public struct Point: Sendable, Equatable {
        /// The policy's knob: the cycle service level or the fill-rate target (forecast policies) or the
        /// multiplier of average lead-time demand in the minimum (static rule).
        public var setting: Double
        /// Units served from stock over units demanded, over all series (volume-weighted).
        public var fillRate: Double
        /// Mean over series of each series' average end-of-period stock on hand, in units.
        public var averageInventory: Double
        public var stockOutPeriods: Int
        public var orders: Int

        public init(setting: Double, fillRate: Double, averageInventory: Double, stockOutPeriods: Int, orders: Int) {
            self.setting = setting
            self.fillRate = fillRate
            self.averageInventory = averageInventory
            self.stockOutPeriods = stockOutPeriods
            self.orders = orders
        }
    }

    struct Prepared: Sendable {
        var history: [Double]
        var future: [Double]
        var rate: Double
        var dispersion: Double
        var historyMean: Double
        /// Demand totals over lead time + review period in the last year of history (nil when too short).
        var protection: EmpiricalSpanDemand?
        /// The history the service would read its spans from: the last `EmpiricalSpanDemand.yearOfPeriods`.
        var lastYear: [Double] { Array(history.suffix(EmpiricalSpanDemand.yearOfPeriods)) }
    }

    public let parameters: ReplenishmentParameters
    let items: [Prepared]

    /// Service levels swept for the forecast policy, from its 5% quantile (high-volume items served from a periodic
    /// review reach high fill rates well below the median) to the 99.99% one.
    public static let serviceLevels: [Double] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999]
    /// Multipliers swept for the static rule's minimum (1.5 is the usual ERP default). Up to 200: on lumpy series a
    /// single customer order can be a hundred days of average demand, and a narrower sweep left the static rule
    /// unable to reach 95% on earlier windows of the shipped data, so no comparison could be made there.
    public static let multipliers: [Double] = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40,
                                               50, 64, 80, 100, 128, 160, 200]

    /// Forecasts each series once (the automatic choice's rate and the recent dispersion, as the service does);
    /// every point of the forecast curve reuses them, so a sweep costs one forecast per series.
    public init(items: [Item], season: Int, parameters: ReplenishmentParameters) {
        self.parameters = parameters
        let forecaster = AutoForecaster(season: season)
        self.items = items.map { item in
            let y = item.history
            let rate = y.isEmpty ? 0 : forecaster.forecast(y, horizon: 1).point[0]
            return Prepared(history: y, future: item.future, rate: rate, dispersion: Thresholds.dispersion(y),
                            historyMean: y.isEmpty ? 0 : y.reduce(0, +) / Double(y.count),
                            protection: EmpiricalSpanDemand(history: y, span: min(max(0, parameters.leadTime), 1 << 40)
                                                                + min(max(1, parameters.reviewPeriod), 1 << 40)))
        }
    }

    /// What the service computes at a cycle service level (`Thresholds.forService`, `periodicReview`): the
    /// service-level quantile of demand over lead time + review period read off the last year's spans, as base stock
    /// for frequent demand and (s, S) for intermittent demand. Each series starts at its order-up-to level.
    public func servicePolicy(serviceLevel: Double) -> Point {
        var p = parameters
        p.serviceLevel = serviceLevel
        p.fillRate = nil
        return replay(setting: serviceLevel) { item in
            let t = Thresholds.forService(history: item.lastYear, rate: item.rate, dispersion: item.dispersion, parameters: p)
            return (t.reorderPoint, t.orderUpTo)
        }
    }

    /// The service's earlier rule, kept for comparison: reorder point and order-up-to level are the service-level
    /// quantiles of the count distribution over the lead time and over lead time + review period
    /// (`Thresholds.init`); each series starts at its order-up-to level.
    public func forecastPolicy(serviceLevel: Double) -> Point {
        var p = parameters
        p.serviceLevel = serviceLevel
        return replay(setting: serviceLevel) { item in
            let t = Thresholds(rate: item.rate, dispersion: item.dispersion, parameters: p)
            return (t.reorderPoint, t.orderUpTo)
        }
    }

    /// The same forecast set for a store that orders only at its reviews. The service watches stock at every
    /// movement (continuous review), so its reorder point covers lead-time demand. A store that looks only every
    /// R periods can find its position just above that point, order nothing, and not be replenished for R + L
    /// periods: its protection interval is the lead time plus the review period. Here the reorder point is the
    /// service-level quantile of demand over L + R (the textbook periodic-review (R, s, S) policy) and the
    /// order-up-to level that plus the expected demand of one review period.
    public func periodicForecastPolicy(serviceLevel: Double) -> Point {
        let lead = max(0, parameters.leadTime), review = max(1, parameters.reviewPeriod)
        return replay(setting: serviceLevel) { item in
            let low = Intervals.countQuantile(mean: item.rate * Double(lead + review), dispersion: item.dispersion, p: serviceLevel)
            return (low, low + (item.rate * Double(review)).rounded(.up))
        }
    }

    /// The periodic-review policy with a fill-rate target instead of a cycle service level: the reorder point is
    /// the smallest level whose expected shortage over lead time + review period is at most (1 - fillRate) x a
    /// review period's expected demand (`CountDistribution.smallestLevel`), the order-up-to level that plus a
    /// review period's expected demand. A share-of-demand target spends safety stock where stock-outs lose most
    /// units, not evenly over cycles.
    public func periodicFillRatePolicy(fillRate: Double) -> Point {
        let lead = max(0, parameters.leadTime), review = max(1, parameters.reviewPeriod)
        return replay(setting: fillRate) { item in
            let demand = CountDistribution(mean: item.rate * Double(lead + review), dispersion: item.dispersion)
            let low = Double(demand.smallestLevel(expectedShortageAtMost: (1 - fillRate) * item.rate * Double(review)))
            return (low, low + (item.rate * Double(review)).rounded(.up))
        }
    }

    /// The periodic-review policy with the reorder point read off the history rather than a fitted distribution:
    /// the service-level quantile of the demand totals of every lead time + review span of the last year
    /// (`EmpiricalSpanDemand`), the order-up-to level that plus a review period's forecast demand. A series with
    /// less than about two months of history uses the count distribution, as `periodicForecastPolicy` does.
    public func periodicHistoryPolicy(serviceLevel: Double) -> Point {
        let lead = max(0, parameters.leadTime), review = max(1, parameters.reviewPeriod)
        return replay(setting: serviceLevel) { item in
            let low = item.protection?.quantile(serviceLevel)
                ?? Intervals.countQuantile(mean: item.rate * Double(lead + review), dispersion: item.dispersion, p: serviceLevel)
            return (low, low + (item.rate * Double(review)).rounded(.up))
        }
    }

    /// Base stock on the same history quantiles: at every review, order up to the service-level quantile of the
    /// demand totals over lead time + review period of the last year (`EmpiricalSpanDemand`), whatever the
    /// position. With no fixed cost per order this is the policy that holds least for a given service (an (s, S)
    /// gap only saves orders); it orders at more reviews than `periodicHistoryPolicy`, which the `orders` column
    /// shows. A series with less than about two months of history uses the count distribution.
    public func baseStockHistoryPolicy(serviceLevel: Double) -> Point {
        let lead = max(0, parameters.leadTime), review = max(1, parameters.reviewPeriod)
        return replay(setting: serviceLevel) { item in
            let level = item.protection?.quantile(serviceLevel)
                ?? Intervals.countQuantile(mean: item.rate * Double(lead + review), dispersion: item.dispersion, p: serviceLevel)
            // Order whenever the position is below the level: the reorder point just under it.
            return (level.nextDown, level)
        }
    }

    /// The service's thresholds for a fill-rate target, as `IntelligenceService` computes them: the base-stock level
    /// whose expected shortage per cycle over the last year's lead time + review spans is within the target's
    /// budget, the count distribution for a short history (`Thresholds.forService`: `fromHistoryQuantiles`, `FillRateSizing`).
    /// The point's fill rate is what the target achieved on demand the policy has not seen.
    public func fillRateTargetPolicy(fillRate: Double) -> Point {
        var p = parameters
        p.fillRate = fillRate
        return replay(setting: fillRate) { item in
            let t = Thresholds.forService(history: item.lastYear, rate: item.rate, dispersion: item.dispersion, parameters: p)
            return (t.reorderPoint, t.orderUpTo)
        }
    }

    /// The common ERP rule: min = multiplier x average lead-time demand of the history, max = min + average demand
    /// over a review period, both rounded up to whole units; each series starts at its max.
    public func staticPolicy(multiplier: Double) -> Point {
        let lead = Double(max(0, parameters.leadTime)), review = Double(max(1, parameters.reviewPeriod))
        return replay(setting: multiplier) { item in
            let low = (multiplier * item.historyMean * lead).rounded(.up)
            return (low, max(low, (low + item.historyMean * review).rounded(.up)))
        }
    }

    public func serviceCurve(_ levels: [Double] = serviceLevels) -> [Point] { levels.map { servicePolicy(serviceLevel: $0) } }
    public func forecastCurve(_ levels: [Double] = serviceLevels) -> [Point] { levels.map { forecastPolicy(serviceLevel: $0) } }
    public func periodicForecastCurve(_ levels: [Double] = serviceLevels) -> [Point] {
        levels.map { periodicForecastPolicy(serviceLevel: $0) }
    }
    public func periodicHistoryCurve(_ levels: [Double] = serviceLevels) -> [Point] {
        levels.map { periodicHistoryPolicy(serviceLevel: $0) }
    }
    public func baseStockHistoryCurve(_ levels: [Double] = serviceLevels) -> [Point] {
        levels.map { baseStockHistoryPolicy(serviceLevel: $0) }
    }
    /// Fill-rate targets swept for `periodicFillRatePolicy` (low targets too: it overshoots them on smooth demand).
    public static let fillRates: [Double] = [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999]
    public func periodicFillRateCurve(_ targets: [Double] = fillRates) -> [Point] { targets.map { periodicFillRatePolicy(fillRate: $0) } }
    public func fillRateTargetCurve(_ targets: [Double] = fillRates) -> [Point] { targets.map { fillRateTargetPolicy(fillRate: $0) } }
    public func staticCurve(_ multipliers: [Double] = multipliers) -> [Point] { multipliers.map { staticPolicy(multiplier: $0) } }

    /// The least average inventory with which a policy reaches `fillRate`, read off its swept curve: the curve's
    /// efficient points (no other point has as high a fill rate with less stock) joined by straight lines, so
    /// the figure is interpolated between the two settings that bracket the target. nil when no setting reaches
    /// the target (widen the sweep) or the lowest setting already exceeds it (the figure would be an
    /// extrapolation).
    public static func inventory(atFillRate target: Double, on curve: [Point]) -> Double? {
        var frontier: [Point] = []
        for point in curve.sorted(by: { ($0.averageInventory, -$0.fillRate) < ($1.averageInventory, -$1.fillRate) })
        where point.fillRate > (frontier.last?.fillRate ?? -1) {
            frontier.append(point)
        }
        guard let upper = frontier.firstIndex(where: { $0.fillRate >= target }) else { return nil }
        if frontier[upper].fillRate == target { return frontier[upper].averageInventory }
        guard upper > 0 else { return nil }
        let a = frontier[upper - 1], b = frontier[upper]
        return a.averageInventory + (target - a.fillRate) / (b.fillRate - a.fillRate) * (b.averageInventory - a.averageInventory)
    }

    func replay(setting: Double, levels: (Prepared) -> (reorderPoint: Double, orderUpTo: Double)) -> Point {
        var demand = 0.0, served = 0.0, inventory = 0.0
        var stockOuts = 0, orders = 0
        for item in items {
            let (low, high) = levels(item)
            let r = InventorySimulation.run(demand: item.future, reorderPoint: low, orderUpTo: high, parameters: parameters, initialStock: high)
            demand += r.demand
            served += r.served
            inventory += r.averageInventory
            stockOuts += r.stockOutPeriods
            orders += r.orders
        }
        return Point(setting: setting, fillRate: demand > 0 ? served / demand : 1, averageInventory: inventory / Double(max(1, items.count)),
                     stockOutPeriods: stockOuts, orders: orders)
    }
}
