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

/// `DemandDays.carry` (issue 15): a pair's latest day carried forward batch by batch, with the days it settles,
/// equals the rollup of all the batches at once, whatever the order of the days in the ledger.
@Suite("A pair's latest day of demand carried forward")
struct DemandCarryTests {
    func movement(_ day: Int64, _ reason: MovementReason, _ delta: Int64, before: Int64) -> Movement {
        Movement(sequence: 0, movementID: "m", storeID: "S", productID: "P", delta: delta, quantityBefore: before, quantityAfter: before + delta,
                 version: 1, reason: reason, reference: nil, actor: "a", atMillis: day * 86_400_000 + 3_600_000, recordedAtMillis: 0)
    }

    /// The table's rows of one pair after upserts of `settled` (merged in order, as `ON DUPLICATE KEY UPDATE` does),
    /// merged with the latest day after them, as the readers do.
    func read(table: [DemandDay], latest: DemandDay?) -> [DemandDay] {
        var byDay: [Int64: DemandDay] = [:]
        for row in table { byDay[row.day] = byDay[row.day].map { $0.merged(with: row) } ?? row }
        if let latest { byDay[latest.day] = byDay[latest.day].map { $0.merged(with: latest) } ?? latest }
        return byDay.values.sorted { $0.day < $1.day }
    }

    @Test func aLaterDaySettlesTheLatestAndABackdatedOneSettlesItself() {
        let day10 = DemandDays.rollup([movement(10, .sale, -2, before: 5)])
        var carried = DemandDays.carry(nil, adding: day10)
        #expect(carried.settled.isEmpty && carried.latest?.day == 10 && carried.latest?.sold == 2)
        carried = DemandDays.carry(carried.latest, adding: DemandDays.rollup([movement(10, .sale, -1, before: 3)]))
        #expect(carried.settled.isEmpty && carried.latest?.sold == 3 && carried.latest?.closing == 2, "the same day merges on the row")
        carried = DemandDays.carry(carried.latest, adding: DemandDays.rollup([movement(12, .receipt, 4, before: 2)]))
        #expect(carried.settled.map(\.day) == [10] && carried.latest?.day == 12, "a later day settles day 10")
        carried = DemandDays.carry(carried.latest, adding: DemandDays.rollup([movement(11, .return, 1, before: 6)]))
        #expect(carried.settled.map(\.day) == [11] && carried.latest?.day == 12, "a backdated day goes to the table, the row keeps day 12")
    }

    @Test func carryingBatchByBatchEqualsTheRollupOfTheLedger() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var level: Int64 = 0, ledger: [Movement] = []
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                let reason: MovementReason = [.sale, .return, .receipt, .count].randomElement(using: &rng)!
                let delta: Int64 = reason == .sale ? -Int64.random(in: 1...3, using: &rng) : Int64.random(in: 0...4, using: &rng)
                ledger.append(movement(Int64.random(in: 100...106, using: &rng), reason, delta, before: level))
                level += delta
            }
            var latest: DemandDay?, table: [DemandDay] = []
            var rest = ledger[...]
            while !rest.isEmpty {
                let batch = rest.prefix(Int.random(in: 1...6, using: &rng))
                rest = rest.dropFirst(batch.count)
                let carried = DemandDays.carry(latest, adding: DemandDays.rollup(batch))
                latest = carried.latest
                table += carried.settled
            }
            #expect(read(table: table, latest: latest) == DemandDays.rollup(ledger))
            #expect(Set(table.map(\.day)).count <= 7 && latest?.day == ledger.map { RFC3339.epochDay(millis: $0.atMillis) }.max())
        }
    }

    /// `DemandDays.merging` of a store's settled days and its stock rows' latest days: every day once (a day in both
    /// merged, the table's first), each product's days together and in order, whatever day the latest is (a
    /// rebuild can leave the table a day later than the row's), and a product with only a latest day kept.
    @Test func mergingTheTableAndTheLatestDaysKeepsEveryDayOnceInOrder() {
        var rng = SystemRandomNumberGenerator()
        func day(_ product: String, _ day: Int64) -> DemandDay {
            DemandDay(storeID: "S", productID: product, day: day, sold: Int64.random(in: 0...5, using: &rng),
                      returned: Int64.random(in: 0...1, using: &rng), inStock: Bool.random(using: &rng), closing: Int64.random(in: -3...9, using: &rng))
        }
        for _ in 0..<300 {
            let products = ["b", "a", "Z", "c"].shuffled(using: &rng).prefix(Int.random(in: 0...4, using: &rng))
            var table: [DemandDay] = [], latest: [DemandDay] = []
            for product in products {
                let days = Set((0..<Int.random(in: 0...5, using: &rng)).map { _ in Int64.random(in: 10...16, using: &rng) }).sorted()
                table += days.map { day(product, $0) }
                if Bool.random(using: &rng) { latest.append(day(product, Int64.random(in: 10...17, using: &rng))) }
            }
            let merged = DemandDays.merging(table: table, latest: latest)
            var expected: [String: [Int64: DemandDay]] = [:]
            for row in table + latest { expected[row.productID, default: [:]][row.day] = expected[row.productID]?[row.day].map { $0.merged(with: row) } ?? row }
            #expect(merged.count == expected.values.map(\.count).reduce(0, +))
            var seen: [String] = []
            for row in merged where seen.last != row.productID {
                #expect(!seen.contains(row.productID), "a product's days together")
                seen.append(row.productID)
            }
            for (product, days) in expected {
                #expect(merged.filter { $0.productID == product } == days.values.sorted { $0.day < $1.day }, "\(product)")
            }
            #expect(Array(seen.prefix(Set(table.map(\.productID)).count)) == products.filter { p in table.contains { $0.productID == p } },
                    "the table's products first, in its order")
            // Rows in any order (the server's union is not sorted): the same days for each product.
            let unordered = DemandDays.merging(table: table.shuffled(using: &rng), latest: latest.shuffled(using: &rng))
            for (product, days) in expected {
                #expect(unordered.filter { $0.productID == product } == days.values.sorted { $0.day < $1.day }, "\(product), rows shuffled")
            }
        }
    }
}
