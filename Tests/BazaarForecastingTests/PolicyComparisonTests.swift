import BazaarForecasting
import Testing

@Suite("Policies compared at matched fill rates")
struct PolicyComparisonTests {
    typealias Point = PolicyComparison.Point

    @Test func inventoryAtAFillRateIsReadOffTheEfficientCurve() {
        let curve = [
            Point(setting: 1, fillRate: 0.80, averageInventory: 10, stockOutPeriods: 0, orders: 0),
            Point(setting: 2, fillRate: 0.85, averageInventory: 30, stockOutPeriods: 0, orders: 0),  // dominated by the next
            Point(setting: 3, fillRate: 0.90, averageInventory: 20, stockOutPeriods: 0, orders: 0),
            Point(setting: 4, fillRate: 1.00, averageInventory: 60, stockOutPeriods: 0, orders: 0),
        ]
        #expect(abs(PolicyComparison.inventory(atFillRate: 0.85, on: curve)! - 15) < 1e-9, "halfway between (0.80, 10) and (0.90, 20)")
        #expect(PolicyComparison.inventory(atFillRate: 0.90, on: curve) == 20)
        #expect(abs(PolicyComparison.inventory(atFillRate: 0.95, on: curve)! - 40) < 1e-9)
        #expect(PolicyComparison.inventory(atFillRate: 0.70, on: curve) == nil, "below the sweep: no extrapolation")
        #expect(PolicyComparison.inventory(atFillRate: 0.95, on: Array(curve.prefix(3))) == nil, "never reached")
    }

    /// The shipped data (lead time 2, review 6, season 6). The single points: 85.3% from 78.8 units against the
    /// static rule's 69.3% from 31.8 (the issue quoted 85.0% from 75.9, with fitted TSB as the automatic choice for
    /// lumpy series; the rolling-origin combination that replaced it forecasts this final window a little worse and
    /// the four before it better: BENCHMARKS.md). At matched fill rates the lead-time thresholds need more stock
    /// than the static rule (98% they do not reach), and the same forecast with a reorder point over lead time +
    /// review needs less at 90% and 95%.
    @Test func shippedDataAtMatchedFillRates() throws {
        let c = try PolicyComparison.shippedData()
        let bazaar = c.forecastPolicy(serviceLevel: 0.95), rule = c.staticPolicy(multiplier: 1.5)
        #expect(abs(bazaar.fillRate - 0.853) < 0.0005 && abs(bazaar.averageInventory - 78.8) < 0.05, "\(bazaar)")
        #expect(abs(rule.fillRate - 0.693) < 0.0005 && abs(rule.averageInventory - 31.8) < 0.05, "\(rule)")
        let forecast = c.forecastCurve(), periodic = c.periodicForecastCurve(), fixed = c.staticCurve()
        for target in [0.90, 0.95, 0.98] {
            let s = try #require(PolicyComparison.inventory(atFillRate: target, on: fixed))
            let f = PolicyComparison.inventory(atFillRate: target, on: forecast)
            #expect(f.map { $0 > s } ?? (target == 0.98), "at \(target): lead-time thresholds \(String(describing: f)), static \(s)")
            if target < 0.98 {
                let p = try #require(PolicyComparison.inventory(atFillRate: target, on: periodic))
                #expect(p < s, "at \(target): periodic \(p), static \(s)")
            }
        }
    }

    /// Issue 16's goal, on the shipped data: at fill rates of 90%, 95% and 98% the periodic policy with its reorder
    /// point read off a year of history needs at least 20% less stock than the static rule (measured: 25-38% less).
    @Test func historyQuantilesHoldAFifthLessStockThanTheStaticRule() throws {
        let c = try PolicyComparison.shippedData()
        let history = c.periodicHistoryCurve(), fixed = c.staticCurve()
        for target in [0.90, 0.95, 0.98] {
            let h = try #require(PolicyComparison.inventory(atFillRate: target, on: history))
            let s = try #require(PolicyComparison.inventory(atFillRate: target, on: fixed))
            #expect(h <= 0.8 * s, "at \(target): history quantiles \(h), static \(s)")
        }
    }

    /// Issue 16's goal for what the service computes (`Thresholds.forService`): at fill rates of 90%, 95% and 98%
    /// on the shipped data at least 20% less stock than the static rule (measured: 39%, 40% and 27% less; the
    /// service's earlier lead-time thresholds needed 16-33% more, `shippedDataAtMatchedFillRates`).
    @Test func theServicesThresholdsHoldAFifthLessStockThanTheStaticRule() throws {
        let c = try PolicyComparison.shippedData()
        let service = c.serviceCurve(), fixed = c.staticCurve()
        for target in [0.90, 0.95, 0.98] {
            let b = try #require(PolicyComparison.inventory(atFillRate: target, on: service))
            let s = try #require(PolicyComparison.inventory(atFillRate: target, on: fixed))
            #expect(b <= 0.8 * s, "at \(target): the service's thresholds \(b), static \(s)")
        }
        // At the default 95% service level it serves more than the static rule's default does, and more than 95%.
        let single = c.servicePolicy(serviceLevel: 0.95)
        #expect(single.fillRate > 0.95 && single.fillRate > c.staticPolicy(multiplier: 1.5).fillRate, "\(single)")
    }

    @Test func spanTotalsAndTheirQuantiles() throws {
        // 60 periods alternating 0 and 10: every 2-period span totals 10, 3-period spans 10 or 20.
        let y = (0..<60).map { $0 % 2 == 0 ? 0.0 : 10 }
        let two = try #require(EmpiricalSpanDemand(history: y, span: 2, minimumSpans: 10))
        #expect(two.totals.count == 59 && Set(two.totals) == [10])
        let three = try #require(EmpiricalSpanDemand(history: y, span: 3, minimumSpans: 10))
        // 58 spans: those starting on a 0 total 10 (29), on a 10 total 20 (29).
        #expect(three.quantile(0.5) == 10 && three.quantile(0.51) == 20 && three.quantile(0.0001) == 10 && three.quantile(1) == 20)
        // Mean shortage at s: (20 - s)/2 for 10 <= s <= 20; within 2 units first at s = 16.
        #expect(three.smallestLevel(expectedShortageAtMost: 2) == 16)
        #expect(three.smallestLevel(expectedShortageAtMost: 100) == 0)
        // Only the last year counts, and too short a history gives no answer (the caller falls back).
        let old = Array(repeating: 1_000.0, count: 100) + Array(repeating: 1.0, count: 365)
        #expect(EmpiricalSpanDemand(history: old, span: 7)!.quantile(1) == 7)
        #expect(EmpiricalSpanDemand(history: Array(repeating: 1, count: 40), span: 7) == nil)
        #expect(EmpiricalSpanDemand(history: [], span: 7) == nil && EmpiricalSpanDemand(history: y, span: 0) == nil)
        // Hostile input: shares outside [0, 1] or NaN are clamped (NaN to the top), spans longer than any history answer nil.
        #expect(three.quantile(-5) == 10 && three.quantile(7) == 20 && three.quantile(.nan) == 20 && three.quantile(.infinity) == 20)
        #expect(EmpiricalSpanDemand(history: y, span: Int.max) == nil)
        let hostile = ReplenishmentParameters(leadTime: Int.max, reviewPeriod: Int.max)
        #expect(Thresholds.fromHistoryQuantiles(history: Array(repeating: 1, count: 400), rate: 1, parameters: hostile).rate == 1)
    }

    /// Issue 16's high-volume case: about 2,000 and 800 a day and lumpy 0-2,500. Before the quantile fix the forecast
    /// policy held about nine times the static rule's stock; now within 1.5x at the default settings, and at a
    /// matched fill rate of 98% the periodic-review variant is within 1.5x too.
    @Test func highVolumeInventoryStaysNearTheStaticRule() throws {
        var random = SeededNormal(seed: 16)
        let a = (0..<208).map { _ in max(0, (2_000 + 250 * random.next()).rounded()) }
        let b = (0..<208).map { _ in max(0, (800 + 120 * random.next()).rounded()) }
        let lumpy = (0..<208).map { _ -> Double in random.uniform() < 0.5 ? 0 : (2_500 * random.uniform()).rounded() }
        let items = [a, b, lumpy].map { PolicyComparison.Item(history: Array($0.dropLast(28)), future: Array($0.suffix(28))) }
        let c = PolicyComparison(items: items, season: 7, parameters: ReplenishmentParameters(leadTime: 3, reviewPeriod: 7))
        let bazaar = c.forecastPolicy(serviceLevel: 0.95), rule = c.staticPolicy(multiplier: 1.5)
        #expect(bazaar.averageInventory < 1.5 * rule.averageInventory, "\(bazaar) vs \(rule)")
        let periodic = try #require(PolicyComparison.inventory(atFillRate: 0.98, on: c.periodicForecastCurve()))
        let fixed = try #require(PolicyComparison.inventory(atFillRate: 0.98, on: c.staticCurve()))
        #expect(periodic < 1.5 * fixed, "periodic \(periodic), static \(fixed)")
        // With a fill-rate target the periodic policy needs about the static rule's stock (within 10%).
        let fill = try #require(PolicyComparison.inventory(atFillRate: 0.98, on: c.periodicFillRateCurve()))
        #expect(fill < 1.1 * fixed, "periodic, fill-rate target \(fill), static \(fixed)")
        // Base stock on a year's span totals: at its default 95% a fill rate at least the static rule's from at most
        // 1.5x its stock (issue 16's high-volume goal read on single points), and less stock at every matched fill rate.
        // What the service computes: at its default 95% a fill rate at least the static rule's from at most 1.5x
        // its stock, and at least a fifth less stock wherever both reach a fill rate of 95% or 98%.
        let service = c.servicePolicy(serviceLevel: 0.95)
        #expect(service.fillRate >= rule.fillRate && service.averageInventory < 1.5 * rule.averageInventory, "\(service) vs \(rule)")
        let serviceCurve = c.serviceCurve()
        for target in [0.95, 0.98] {
            // Its lowest setting may already serve more than the target (the protection level is never below the
            // forecast's mean demand over lead time + review): then that point's stock bounds what the target needs.
            let lowest = try #require(serviceCurve.min { $0.averageInventory < $1.averageInventory })
            let b = try #require(PolicyComparison.inventory(atFillRate: target, on: serviceCurve)
                ?? (lowest.fillRate >= target ? lowest.averageInventory : nil))
            let s = try #require(PolicyComparison.inventory(atFillRate: target, on: c.staticCurve()))
            #expect(b < 0.8 * s, "at \(target): the service's thresholds \(b), static \(s)")
        }
        let base = c.baseStockHistoryPolicy(serviceLevel: 0.95)
        #expect(base.fillRate >= rule.fillRate && base.averageInventory < 1.5 * rule.averageInventory, "\(base) vs \(rule)")
        for target in [0.90, 0.95, 0.98] {
            let b = try #require(PolicyComparison.inventory(atFillRate: target, on: c.baseStockHistoryCurve()))
            let s = try #require(PolicyComparison.inventory(atFillRate: target, on: c.staticCurve()))
            #expect(b < s, "at \(target): base stock \(b), static \(s)")
        }
    }
}

@Suite("Thresholds read off the history")
struct HistoryThresholdTests {
    /// A year of a customer who buys 60 every sixth day and nothing else: a span of 6 days always holds exactly one
    /// order, a span of 2 days one in three times. The count distribution with the same mean (10 a day) and
    /// dispersion would spread that out; the history quantiles give the real spans' totals.
    @Test func quantilesOfRealSpans() {
        let y = (0..<365).map { $0 % 6 == 5 ? 60.0 : 0 }
        let p = ReplenishmentParameters(leadTime: 2, reviewPeriod: 4, serviceLevel: 0.95)
        let t = Thresholds.fromHistoryQuantiles(history: y, rate: 10, parameters: p)
        #expect(t.reorderPoint == 60, "two days hold an order a third of the time: the 95% quantile is one order")
        #expect(t.orderUpTo == 60, "six days always hold exactly one order")
        #expect(t.safetyStock == 40)
        let low = Thresholds.fromHistoryQuantiles(history: y, rate: 10, parameters: ReplenishmentParameters(leadTime: 2, reviewPeriod: 4, serviceLevel: 0.6))
        #expect(low.reorderPoint == 0 && low.orderUpTo == 60)
        // Fill rate 95% of a 4-day review's 40 units: 2 units may go short per cycle (`FillRateTests.historySpansByHand`).
        var fill = p
        fill.fillRate = 0.95
        #expect(Thresholds.fromHistoryQuantiles(history: y, rate: 10, parameters: fill).orderUpTo == 57)
    }

    @Test func shortHistoriesFallBackToTheCountDistribution() {
        let y = Array(repeating: 3.0, count: 30)
        let p = ReplenishmentParameters(leadTime: 3, reviewPeriod: 7)
        #expect(Thresholds.fromHistoryQuantiles(history: y, rate: 3, parameters: p) == Thresholds(rate: 3, dispersion: 1, parameters: p))
        // Lead time 0: nothing to cover before an order arrives.
        let year = Array(repeating: 3.0, count: 365)
        let t = Thresholds.fromHistoryQuantiles(history: year, rate: 3, parameters: ReplenishmentParameters(leadTime: 0, reviewPeriod: 7))
        #expect(t.reorderPoint == 0 && t.orderUpTo == 21)
    }
}

extension PolicyComparison {
    /// The shipped data (`ReferenceData`) cut 28 days before its end, lead time 2, review every 6 days: the setting of
    /// BENCHMARKS.md's matched-fill-rate figures.
    static func shippedData() throws -> PolicyComparison {
        let items = try ReferenceData.series().map {
            PolicyComparison.Item(history: Array($0.values.dropLast(28)), future: Array($0.values.suffix(28)))
        }
        return PolicyComparison(items: items, season: ReferenceData.season, parameters: ReplenishmentParameters(leadTime: 2, reviewPeriod: 6))
    }
}
