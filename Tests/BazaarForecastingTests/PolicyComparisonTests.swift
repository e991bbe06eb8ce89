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

    /// The shipped data (lead time 2, review 6, season 6). The single points are the figures the issue quotes
    /// (85.0% from 75.9 units against 69.3% from 31.8); at matched fill rates the lead-time thresholds need more
    /// stock than the static rule, and the same forecast with a reorder point over lead time + review needs less.
    @Test func shippedDataAtMatchedFillRates() throws {
        let items = try ReferenceData.series().map {
            PolicyComparison.Item(history: Array($0.values.dropLast(28)), future: Array($0.values.suffix(28)))
        }
        let c = PolicyComparison(items: items, season: ReferenceData.season, parameters: ReplenishmentParameters(leadTime: 2, reviewPeriod: 6))
        let bazaar = c.forecastPolicy(serviceLevel: 0.95), rule = c.staticPolicy(multiplier: 1.5)
        #expect(abs(bazaar.fillRate - 0.850) < 0.0005 && abs(bazaar.averageInventory - 75.9) < 0.05, "\(bazaar)")
        #expect(abs(rule.fillRate - 0.693) < 0.0005 && abs(rule.averageInventory - 31.8) < 0.05, "\(rule)")
        let forecast = c.forecastCurve(), periodic = c.periodicForecastCurve(), fixed = c.staticCurve()
        for target in [0.90, 0.95, 0.98] {
            let f = try #require(PolicyComparison.inventory(atFillRate: target, on: forecast))
            let p = try #require(PolicyComparison.inventory(atFillRate: target, on: periodic))
            let s = try #require(PolicyComparison.inventory(atFillRate: target, on: fixed))
            #expect(f > s, "at \(target): lead-time thresholds \(f), static \(s)")
            #expect(p < s, "at \(target): periodic \(p), static \(s)")
        }
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
    }
}
