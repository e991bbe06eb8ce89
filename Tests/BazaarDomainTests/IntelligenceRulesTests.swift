import BazaarDomain
import Testing

@Suite("Demand history and alert rules")
struct IntelligenceRulesTests {
    func movement(_ day: Int64, _ reason: MovementReason, _ delta: Int64, before: Int64) -> Movement {
        Movement(sequence: 0, movementID: "m", storeID: "S", productID: "P", delta: delta, quantityBefore: before, quantityAfter: before + delta,
                 version: 1, reason: reason, reference: nil, actor: "a", atMillis: day * 86_400_000 + 3_600_000, recordedAtMillis: 0)
    }

    @Test func dailyDemandIsSalesMinusReturnsWithStockOutDaysCensored() {
        let history = [
            movement(10, .receipt, 5, before: 0),
            movement(10, .sale, -2, before: 5),
            movement(11, .sale, -3, before: 3),  // sold out on day 11
            movement(11, .return, 1, before: 0),
            movement(11, .sale, -1, before: 1),  // level 0 from here
            movement(14, .receipt, 4, before: 0),  // days 12 and 13: nothing to sell
            movement(15, .sale, -1, before: 4),
        ]
        let (sold, censored) = DemandHistory.daily(history, firstDay: 10, lastDay: 16)
        #expect(sold == [2, 3, 0, 0, 0, 1, 0])
        #expect(censored == [false, false, true, true, false, false, false])
    }

    @Test func levelConditions() {
        let t = StockThresholds(dailyRate: 2, reorderPoint: 10, orderUpTo: 28, leadTimeDays: 3, anomalyAbove: 9, historyDays: 90, computedAtMillis: 0)
        #expect(AlertRules.levelConditions(quantity: -1, thresholds: t) == [.negativeStock])
        #expect(AlertRules.levelConditions(quantity: 0, thresholds: t) == [.stockOut])
        #expect(AlertRules.levelConditions(quantity: 5, thresholds: t) == [.lowStock, .stockOutRisk])
        #expect(AlertRules.levelConditions(quantity: 10, thresholds: t) == [.lowStock])
        #expect(AlertRules.levelConditions(quantity: 11, thresholds: t).isEmpty)
        #expect(AlertRules.levelConditions(quantity: 100, thresholds: t).isEmpty, "50 days of cover is not overstock yet")
        #expect(AlertRules.levelConditions(quantity: 130, thresholds: t) == [.overstock])
        var young = t
        young.historyDays = 10
        #expect(AlertRules.levelConditions(quantity: 130, thresholds: young).isEmpty, "a new item with little history is not overstocked")
        let idle = StockThresholds(dailyRate: 0, reorderPoint: 0, orderUpTo: 0, leadTimeDays: 3, anomalyAbove: 9, computedAtMillis: 0)
        #expect(AlertRules.levelConditions(quantity: 0, thresholds: idle).isEmpty, "an item that never sells is not out of stock")
    }

    @Test func eventConditions() {
        let t = StockThresholds(dailyRate: 2, reorderPoint: 10, orderUpTo: 28, leadTimeDays: 3, anomalyAbove: 9, computedAtMillis: 0)
        #expect(AlertRules.eventConditions(movement(1, .sale, -10, before: 50), thresholds: t) == [.demandAnomaly])
        #expect(AlertRules.eventConditions(movement(1, .sale, -9, before: 50), thresholds: t).isEmpty)
        #expect(AlertRules.eventConditions(movement(1, .count, -6, before: 50), thresholds: t) == [.shrinkage])
        #expect(AlertRules.eventConditions(movement(1, .count, -2, before: 50), thresholds: t).isEmpty)
        #expect(AlertRules.eventConditions(movement(1, .count, -3, before: 100), thresholds: t).isEmpty, "3% is within tolerance")
    }
}
