/// The thresholds the service sets: what `IntelligenceService` stores for every store x product and what
/// `bazaar simulate` replays as "Bazaar (service)".
///
/// A store orders at its reviews, every R periods, and an order arrives L periods later. Whatever it orders at one
/// review must carry it until the order of the *next* review arrives, so the stock to protect is demand over
/// L + R (the protection interval of the periodic-review (R, s, S) policy; Silver, Pyke and Peterson, ch. 7), not
/// over L alone as a continuously watched shelf needs. The earlier rule covered only L, and on the shipped data it
/// needed 16-33% *more* stock than the static min/max rule for the same fill rate (BENCHMARKS.md, "Matched fill
/// rates").
///
/// Demand over L + R is read off the history (`EmpiricalSpanDemand`: the totals of every L + R span of the last
/// year) rather than a fitted distribution: real spans carry the customer orders that come together, promotions and
/// the previous peak season, which one rate and a variance-to-mean ratio do not. It is never below the forecast's
/// mean demand over L + R: a year of spans lags a rise of the last weeks that the forecast already follows. A
/// history too short for spans (about two months) uses the count distribution with the forecast rate.
///
/// Two shapes, by how often the item sells (`DemandClass`, Syntetos-Boylan):
/// - **Frequent demand** (smooth, erratic): base stock. S is the service-level quantile of demand over L + R and
///   every review that finds the position below S orders up to it (s = S - 1). With no fixed cost per order this
///   holds least stock for a given service; an (s, S) gap on a fast mover only adds a review's demand on top.
/// - **Intermittent demand** (intermittent, lumpy): (s, S). s is that quantile, S is s plus a review period's
///   forecast demand. Most reviews of a slow mover find nothing sold; base stock would order a unit or two at every
///   review that found a sale, and on the shipped lumpy series it needed 9% more stock than (s, S) at 98% fill.
///
/// Measured (BENCHMARKS.md, "The service's thresholds"): on the shipped data 27-40% less stock than the static
/// rule at fill rates of 90-98%; on the high-volume series 99.7% fill at its default 95% where the static rule
/// serves 91.3%, from 1.26x its stock, and 32% less stock at a matched 98%.
extension Thresholds {
    /// The service's thresholds for `parameters`: a fill-rate target's base-stock level (`fromHistoryQuantiles`),
    /// or for a cycle service level the periodic-review levels above (`periodicReview`).
    /// `history`: demand per period, oldest first, up to a year of it (the spans are read from the last year).
    /// Both carry `lowStockLevel` (`lowStock`).
    public static func forService(history: [Double], rate: Double, dispersion: Double, parameters: ReplenishmentParameters) -> Thresholds {
        let history = withoutASinglePeak(history)
        var t = parameters.fillRate == nil
            ? periodicReview(history: history, rate: rate, dispersion: dispersion, parameters: parameters)
            : fromHistoryQuantiles(history: history, rate: rate, parameters: parameters)
        t.lowStockLevel = lowStock(history: history, rate: rate, dispersion: dispersion, parameters: parameters)
        return t
    }

    /// The history with a lone peak lowered to the second largest period: a period more than three times any other
    /// of the year is one customer's one-off order, not demand to stock for all year. Without it one order of a
    /// million on an item selling four a day set a base stock of a million (a review's finding); a span quantile
    /// should not rest on a single observation. Peaks that recur, or stand less apart, are kept: on the shipped data
    /// this changes nothing at 90-95% fill and lowers the stock for 98% (BENCHMARKS.md).
    static func withoutASinglePeak(_ history: [Double]) -> [Double] {
        // Only where spans are read (about two months and more): a short history's one sale is all it knows.
        guard history.count >= EmpiricalSpanDemand.minimumSpans, let top = history.indices.max(by: { history[$0] < history[$1] }) else {
            return history
        }
        var rest = history
        rest[top] = -Double.infinity
        guard let second = rest.max(), history[top] > 3 * max(second, 1) else { return history }
        var y = history
        y[top] = second
        return y
    }

    /// The level below which the shelf is low, whatever the ordering rule: the target's quantile (the service level,
    /// or the fill rate read as one) of demand over the lead time alone, what an order placed now must outlast; off
    /// the year's lead-time spans, never below the forecast's mean over the lead time, or the count distribution
    /// for a short history. 0 for a lead time of 0. Why apart from the reorder point: base stock orders a fast mover at
    /// every review, so its reorder point is one below its order-up-to level and a `low_stock` against it would open
    /// after every delivery's first sale (65% of a demo chain's items `at_risk` on the overview, against 22% with
    /// lead-time levels).
    public static func lowStock(history: [Double], rate: Double, dispersion: Double, parameters p: ReplenishmentParameters) -> Double {
        let lead = min(max(0, p.leadTime), 1 << 40)
        guard lead > 0 else { return 0 }
        let level = p.fillRate ?? p.serviceLevel
        let overLead = max(0, rate) * Double(lead)
        return EmpiricalSpanDemand(history: history, span: lead).map { max($0.quantile(level), overLead.rounded(.up)) }
            ?? Intervals.countQuantile(mean: overLead, dispersion: dispersion, p: level)
    }

    /// Periodic-review thresholds for a cycle service level (see the type's comment): the protection level is the
    /// `serviceLevel` quantile of demand over lead time + review period, from the history's spans or, for a short
    /// history, the count distribution with mean `rate` x (L + R) and `dispersion`.
    public static func periodicReview(history: [Double], rate: Double, dispersion: Double, parameters p: ReplenishmentParameters) -> Thresholds {
        let r = max(0, rate)
        // Clamped so that a hostile setting cannot overflow the sum; a span longer than the history answers nil.
        let lead = min(max(0, p.leadTime), 1 << 40), review = min(max(1, p.reviewPeriod), 1 << 40)
        let overInterval = r * Double(lead + review)
        // The spans of a year lag a recent rise that the forecast already sees (40 a day for ten days after 2 a day:
        // their 95% quantile over 14 days is 27): never protect less than the forecast's own mean demand over the
        // interval (`PeriodicReviewTests.aRecentRiseIsNotProtectedBelowTheForecastsOwnDemand`).
        let protection = EmpiricalSpanDemand(history: history, span: lead + review).map { max($0.quantile(p.serviceLevel), overInterval.rounded(.up)) }
            ?? Intervals.countQuantile(mean: overInterval, dispersion: dispersion, p: p.serviceLevel)
        switch frequentDemand(history) {
        case true:
            return Thresholds(rate: r, reorderPoint: max(0, protection - 1), orderUpTo: protection, leadTime: lead)
        case false:
            return Thresholds(rate: r, reorderPoint: protection, orderUpTo: protection + (r * Double(review)).rounded(.up), leadTime: lead)
        }
    }

    /// Whether an item sells in most periods (smooth or erratic demand): base stock. An item with no sale yet, or
    /// one that sells on fewer than about three periods in four, is intermittent: (s, S).
    static func frequentDemand(_ history: [Double]) -> Bool {
        guard history.contains(where: { $0 > 0 }) else { return false }
        switch DemandClass.of(history) {
        case .smooth, .erratic: return true
        case .intermittent, .lumpy: return false
        }
    }
}
