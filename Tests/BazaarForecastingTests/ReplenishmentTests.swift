import BazaarForecasting
import Foundation
import Testing

@Suite("Dynamic thresholds and the replenishment simulation")
struct ReplenishmentTests {
    let parameters = ReplenishmentParameters(leadTime: 3, reviewPeriod: 7, packSize: 6, serviceLevel: 0.95)

    @Test func thresholdsCoverLeadTimeDemandAtTheServiceLevel() {
        // Poisson demand of 2 a day: lead-time demand ~ Poisson(6), whose 95% quantile is 10.
        let t = Thresholds(rate: 2, dispersion: 1, parameters: parameters)
        #expect(t.reorderPoint == 10)
        #expect(t.safetyStock == 4)
        // Lead time + review = 10 days: Poisson(20), 95% quantile 28.
        #expect(t.orderUpTo == 28)
        #expect(t.daysOfCover(onHand: 9) == 4.5)
        #expect(Thresholds(rate: 0, dispersion: 1, parameters: parameters).daysOfCover(onHand: 5) == nil)
        // Over-dispersed demand needs more safety stock for the same service level.
        #expect(Thresholds(rate: 2, dispersion: 4, parameters: parameters).reorderPoint > t.reorderPoint)
    }

    @Test func ordersReachTheOrderUpToLevelInWholePacks() {
        let t = Thresholds(rate: 2, dispersion: 1, parameters: parameters)
        #expect(t.orderQuantity(onHand: 11, onOrder: 0, packSize: 6) == 0, "above the reorder point: no order")
        #expect(t.orderQuantity(onHand: 10, onOrder: 0, packSize: 6) == 18, "28 - 10 = 18, three packs")
        #expect(t.orderQuantity(onHand: 3, onOrder: 0, packSize: 6) == 30, "25 rounds up to five packs")
        #expect(t.orderQuantity(onHand: 3, onOrder: 12, packSize: 6) == 0, "what is on order counts")
        #expect(t.orderQuantity(onHand: -4, onOrder: 0, packSize: 1) == 32, "negative stock is made good")
    }

    @Test func simulationLosesUnmetDemandAndReceivesAfterTheLeadTime() {
        let p = ReplenishmentParameters(leadTime: 1, reviewPeriod: 1, packSize: 1)
        // Start with 3; demand 2 a day; reorder at <= 1 up to 3; orders arrive the day after the next.
        let r = InventorySimulation.run(demand: [2, 2, 2, 2], reorderPoint: 1, orderUpTo: 3, parameters: p, initialStock: 3)
        // Day 0: sell 2, 1 left, order 2 (arrives day 2). Day 1: sell 1 of 2 (stock-out), 0 left, position 2 > 1.
        // Day 2: receive 2, sell 2, 0 left, order 3 (arrives day 4). Day 3: sell 0 of 2 (stock-out).
        #expect(r.served == 5)
        #expect(r.stockOutPeriods == 2)
        #expect(r.orders == 2)
        #expect(abs(r.fillRate - 5.0 / 8.0) < 1e-12)
    }

    /// Expected-shortage levels against scipy (brute force over the pmf): Poisson(2) with at most 0.1 units short
    /// needs 4, Poisson(6) with 0.7 needs 7, Poisson(20) with 0.7 needs 24, Poisson(6,000) with 10 needs 6,059, the
    /// negative binomial of mean 6,000 and dispersion 20 with 100 needs 6,087.
    @Test func fillRateLevelsMatchScipy() {
        #expect(CountDistribution(mean: 2, dispersion: 1).smallestLevel(expectedShortageAtMost: 0.1) == 4)
        #expect(CountDistribution(mean: 6, dispersion: 1).smallestLevel(expectedShortageAtMost: 0.7) == 7)
        #expect(CountDistribution(mean: 20, dispersion: 1).smallestLevel(expectedShortageAtMost: 0.7) == 24)
        #expect(CountDistribution(mean: 6_000, dispersion: 1).smallestLevel(expectedShortageAtMost: 10) == 6_059)
        #expect(CountDistribution(mean: 6_000, dispersion: 20).smallestLevel(expectedShortageAtMost: 100) == 6_087)
        #expect(CountDistribution(mean: 3, dispersion: 2).smallestLevel(expectedShortageAtMost: 3) == 0, "budget of the whole mean")
        // Past the exact walk's budget the normal loss function takes over: still near mean + a little.
        let huge = CountDistribution(mean: 1e12, dispersion: 1).smallestLevel(expectedShortageAtMost: 1e4)
        #expect(huge > 1_000_000_000_000 && huge < 1_000_003_000_000)
    }

    /// A 95% fill rate on Poisson demand of 2 a day (lead time 3, review 7): a cycle brings in 14 units and may leave
    /// 0.7 short, so the order-up-to level is 24 (the base-stock rule, `FillRateTests`) and the reorder point 23,
    /// against 10 and 28 for a 95% cycle service level.
    @Test func fillRateTargetSetsThresholdsByExpectedShortage() {
        var p = parameters
        p.fillRate = 0.95
        let t = Thresholds(rate: 2, dispersion: 1, parameters: p)
        #expect(t.reorderPoint == 23)
        #expect(t.orderUpTo == 24)
        #expect(Thresholds(rate: 0, dispersion: 1, parameters: p).reorderPoint == 0)
    }

    /// Issue 16: an item selling about 2,000 a day (sd 200) used to get a reorder point of 100,001 because the count
    /// quantiles underflowed. With lead time 3 the reorder point must be within 3% of the normal-theory figure,
    /// 3 x 2,000 + 1.645 x sqrt(3) x 200 = 6,570, and the order-up-to level within 3% of 10 x 2,000 + 1.645 x
    /// sqrt(10) x 200 = 21,040.
    @Test func highVolumeThresholdsAreNearNormalTheory() {
        var random = SeededNormal(seed: 16)
        let y = (0..<180).map { _ in (2_000 + 200 * random.next()).rounded() }
        let t = Thresholds.from(history: y, season: 7, parameters: parameters)
        #expect(abs(t.rate - 2_000) < 100, "rate \(t.rate)")
        #expect(abs(t.reorderPoint - 6_570) < 0.03 * 6_570, "reorder point \(t.reorderPoint)")
        #expect(abs(t.orderUpTo - 21_040) < 0.03 * 21_040, "order-up-to \(t.orderUpTo)")
        // And exactly what the count distribution says for the rate and dispersion it used.
        let d = Thresholds.dispersion(y)
        let z = Intervals.normalQuantile(0.95)
        let normal = 3 * t.rate + z * (3 * t.rate * d).squareRoot()
        #expect(abs(t.reorderPoint - normal) < 0.01 * normal)
        // Replaying four more weeks of the same demand, watched every day as the service watches every movement:
        // high service with stock below the order-up-to level (with the old thresholds, 100,001 units).
        let future = (0..<28).map { _ in (2_000 + 200 * random.next()).rounded() }
        let daily = ReplenishmentParameters(leadTime: 3, reviewPeriod: 1, packSize: 6)
        let r = InventorySimulation.run(demand: future, reorderPoint: t.reorderPoint, orderUpTo: t.orderUpTo, parameters: daily,
                                        initialStock: t.orderUpTo)
        #expect(r.fillRate > 0.95)
        #expect(r.averageInventory < t.orderUpTo, "average inventory \(r.averageInventory)")
    }
}

/// Deterministic standard normal draws (SplitMix64 and Box-Muller), so tests with noisy demand are repeatable.
struct SeededNormal {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / 9_007_199_254_740_992
    }

    mutating func next() -> Double {
        (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
    }
}
