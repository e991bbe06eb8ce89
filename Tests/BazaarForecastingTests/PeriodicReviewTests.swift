import Testing

@testable import BazaarForecasting

/// The service's thresholds for a cycle service level (`Thresholds.periodicReview`), worked by hand.
@Suite("The service's periodic-review thresholds")
struct PeriodicReviewTests {
    /// A year of a customer who buys 60 every sixth day: lumpy, so (s, S). Every 6-day span (lead 2 + review 4)
    /// holds exactly one order, so s = 60 at any service level, and S = s + 4 days at the rate of 10.
    @Test func intermittentDemandGetsAnOrderUpToAboveTheReorderPoint() {
        let y = (0..<365).map { $0 % 6 == 5 ? 60.0 : 0 }
        let t = Thresholds.periodicReview(history: y, rate: 10, dispersion: 5, parameters: ReplenishmentParameters(leadTime: 2, reviewPeriod: 4))
        #expect(t.reorderPoint == 60 && t.orderUpTo == 100, "\(t)")
        #expect(t.safetyStock == 40, "reorder point minus lead-time demand")
        #expect(t.orderQuantity(onHand: 61, onOrder: 0, packSize: 1) == 0, "above s: a slow mover is not topped up")
        #expect(t.orderQuantity(onHand: 60, onOrder: 0, packSize: 1) == 40)
    }

    /// Smooth demand, 8 to 12 a day in a repeating pattern: base stock. S is the 95% quantile of the 7-day (lead 3 +
    /// review 4) totals; every review below S orders up to it.
    @Test func frequentDemandGetsBaseStock() {
        let pattern: [Double] = [8, 9, 10, 11, 12, 10, 10]
        let y = (0..<365).map { pattern[$0 % 7] + ($0 % 29 == 0 ? 6 : 0) }
        let t = Thresholds.periodicReview(history: y, rate: 10, dispersion: 1, parameters: ReplenishmentParameters(leadTime: 3, reviewPeriod: 4))
        let spans = EmpiricalSpanDemand(history: y, span: 7)!
        #expect(t.orderUpTo == spans.quantile(0.95) && t.orderUpTo == 76, "a week is 70, plus the extra 6 of one day in 29 in about a quarter of weeks")
        #expect(t.reorderPoint == t.orderUpTo - 1)
        #expect(t.orderQuantity(onHand: 75, onOrder: 0, packSize: 1) == 1, "any sale since the last review is replaced")
    }

    /// Under about two months of history: the count distribution over lead time + review with the forecast rate.
    @Test func aShortHistoryUsesTheCountDistribution() {
        let y = Array(repeating: 3.0, count: 30)
        let p = ReplenishmentParameters(leadTime: 3, reviewPeriod: 7, serviceLevel: 0.9)
        let t = Thresholds.periodicReview(history: y, rate: 3, dispersion: 1, parameters: p)
        let protection = Intervals.countQuantile(mean: 30, dispersion: 1, p: 0.9)
        #expect(t.orderUpTo == protection && t.reorderPoint == protection - 1, "sells every day: base stock on Poisson(30)")
        // No sale yet: nothing to protect, and nothing ordered until there is.
        let none = Thresholds.periodicReview(history: [], rate: 0, dispersion: 1, parameters: p)
        #expect(none.reorderPoint == 0 && none.orderUpTo == 0 && none.orderQuantity(onHand: 0, onOrder: 0, packSize: 1) == 0)
    }

    /// What the service stores follows the target: a fill rate sizes base stock on the cycle shortage
    /// (`fromHistoryQuantiles`), a service level the periodic-review quantile.
    @Test func theServiceRuleFollowsTheTarget() {
        let y = (0..<365).map { $0 % 6 == 5 ? 60.0 : 0 }
        var p = ReplenishmentParameters(leadTime: 2, reviewPeriod: 4)
        var expected = Thresholds.periodicReview(history: y, rate: 10, dispersion: 5, parameters: p)
        // Two days hold an order a third of the time: the 95% quantile of lead-time demand is one order.
        expected.lowStockLevel = 60
        #expect(Thresholds.forService(history: y, rate: 10, dispersion: 5, parameters: p) == expected)
        p.fillRate = 0.95
        expected = Thresholds.fromHistoryQuantiles(history: y, rate: 10, parameters: p)
        expected.lowStockLevel = 60
        #expect(Thresholds.forService(history: y, rate: 10, dispersion: 5, parameters: p) == expected)
    }

    /// The low-stock level is demand over the lead time alone, apart from the ordering rule: a fast mover on base
    /// stock orders at every review (reorder point one below S), but it is low only below what covers the lead time.
    @Test func theLowStockLevelCoversTheLeadTimeAlone() {
        let pattern: [Double] = [8, 9, 10, 11, 12, 10, 10]
        let y = (0..<365).map { pattern[$0 % 7] }
        let p = ReplenishmentParameters(leadTime: 3, reviewPeriod: 4)
        let t = Thresholds.forService(history: y, rate: 10, dispersion: 1, parameters: p)
        #expect(t.orderUpTo == 70 && t.reorderPoint == 69, "base stock over 7 days")
        #expect(t.lowStockLevel == 33, "the largest 3-day total of the week's pattern (11 + 12 + 10)")
        // Never below the forecast's mean over the lead time; nothing to outlast with no lead time; a short history
        // reads the count distribution.
        #expect(Thresholds.lowStock(history: y, rate: 20, dispersion: 1, parameters: p) == 60)
        #expect(Thresholds.lowStock(history: y, rate: 10, dispersion: 1, parameters: ReplenishmentParameters(leadTime: 0, reviewPeriod: 7)) == 0)
        #expect(Thresholds.lowStock(history: Array(y.prefix(30)), rate: 10, dispersion: 1, parameters: p)
            == Intervals.countQuantile(mean: 30, dispersion: 1, p: 0.95))
        for hostile in [ReplenishmentParameters(leadTime: Int.max, reviewPeriod: 1, serviceLevel: 1), ReplenishmentParameters(leadTime: 5, reviewPeriod: 1, serviceLevel: .nan)] {
            let level = Thresholds.lowStock(history: y, rate: 1e15, dispersion: 1e9, parameters: hostile)
            #expect(!level.isNaN && level >= 0)
        }
    }

    /// Demand that rose recently: 2 a day for most of the year, 40 a day for the last 10 days. Under a twentieth of
    /// the year's 14-day spans hold the new level, so their 95% quantile is 27, about five hours of the new demand;
    /// a base stock of 28 would serve about a tenth of what sells. The protection level is never below the
    /// forecast's own mean demand over lead time + review period (the forecast sees the rise: rate about 39).
    @Test func aRecentRiseIsNotProtectedBelowTheForecastsOwnDemand() {
        let y = (0..<365).map { $0 < 355 ? 2.0 : 40 }
        let p = ReplenishmentParameters(leadTime: 7, reviewPeriod: 7)
        #expect(EmpiricalSpanDemand(history: y, span: 14)!.quantile(0.95) <= 28, "the spans alone lag the rise")
        let t = Thresholds.periodicReview(history: y, rate: 39, dispersion: 2, parameters: p)
        #expect(t.orderUpTo == 546 && t.reorderPoint == 545, "frequent demand: base stock at 39 x 14 = 546, \(t)")
        // Intermittent demand: the reorder point gets the same floor, the order-up-to a review's demand above it.
        let slow = (0..<365).map { $0 % 3 == 0 ? ($0 < 355 ? 3.0 : 90) : 0 }
        let s = Thresholds.periodicReview(history: slow, rate: 30, dispersion: 30, parameters: p)
        #expect(s.reorderPoint == 420 && s.orderUpTo == 630, "\(s)")
        // Where the spans are above the forecast's demand, they decide (as in the tests above).
        let steady = Thresholds.periodicReview(history: Array(repeating: 5, count: 365), rate: 1, dispersion: 1, parameters: p)
        #expect(steady.orderUpTo == 70)
    }

    /// One customer's one-off order does not set the level for a year: four a day and one order of a million at
    /// the highest service level the API takes. A peak that recurs, or is not far above the rest, still counts.
    @Test func aLoneOneOffOrderDoesNotSetTheLevel() {
        var y = (0..<365).map { Double(3 + $0 % 3) }
        y[200] = 1_000_000
        let p = ReplenishmentParameters(leadTime: 2, reviewPeriod: 6, serviceLevel: 0.999)
        let t = Thresholds.forService(history: y, rate: 4, dispersion: 1, parameters: p)
        #expect(t.orderUpTo < 100 && t.lowStockLevel! < 100, "\(t)")
        #expect(Thresholds.periodicReview(history: y, rate: 4, dispersion: 1, parameters: p).orderUpTo > 1_000_000, "the rule without the guard")
        var twice = y
        twice[300] = 1_000_000
        #expect(Thresholds.forService(history: twice, rate: 4, dispersion: 1, parameters: p).orderUpTo > 1_000_000, "a recurring order is demand")
        var close = y
        close[200] = 14  // under three times the next largest (5)
        #expect(Thresholds.withoutASinglePeak(close) == close)
        #expect(Thresholds.withoutASinglePeak([]) == [] && Thresholds.withoutASinglePeak([0, 9]) == [0, 9], "a short history keeps its one sale")
        let lone = Array(repeating: 0.0, count: 80) + [9]
        #expect(Thresholds.withoutASinglePeak(lone) == Array(repeating: 0.0, count: 81), "nine against nothing for 80 days: a lone peak")
    }

    /// Hostile settings and values: no trap, no overflow, finite or infinite levels, never NaN.
    @Test func hostileParameters() {
        let year = Array(repeating: 1e15, count: 365)
        for p in [ReplenishmentParameters(leadTime: Int.max, reviewPeriod: Int.max, serviceLevel: 0.999),
                  ReplenishmentParameters(leadTime: -5, reviewPeriod: -5, serviceLevel: .nan),
                  ReplenishmentParameters(leadTime: 0, reviewPeriod: 1, serviceLevel: 1)] {
            for history in [year, [], [.infinity]] {
                let t = Thresholds.periodicReview(history: history, rate: 1e15, dispersion: 1e9, parameters: p)
                #expect(!t.reorderPoint.isNaN && !t.orderUpTo.isNaN && t.orderUpTo >= t.reorderPoint, "\(p) \(history.prefix(1)): \(t)")
            }
        }
    }
}
