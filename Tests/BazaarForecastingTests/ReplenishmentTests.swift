import BazaarForecasting
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
}
