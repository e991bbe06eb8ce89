import BazaarCore
import BazaarDomain
import BazaarMySQL
import Foundation
import Synchronization
import Testing

/// Alert evaluation of a batch of movements (`IntelligenceService.prepareEvaluation`, issue 15): the batch's reads,
/// a few statements per store, leave every evaluation judging exactly as it would alone, and spare the per-item
/// round trips and first-threshold transactions that kept a node's alerts 16 s behind a Kafka ingestion of 10,000
/// new pairs.
@Suite struct EvaluationBatchTests {
    static let day: Int64 = 86_400_000
    /// P00-P19 in the catalog (with varied parameters, one store override); P20-P23 not (the single path sizes those).
    static let products = (0..<24).map { String(format: "P%02d", $0) }
    static let stores = ["S1", "S2"]

    /// The same history in any engine: stock, four weeks of sales for half the items, stored thresholds that call
    /// for `low_stock` (P10-P12 of S1) and open alerts the batch resolves (P13-P15 of S1).
    static func history(_ store: any StockStore & DemandStore & IntelligencePassStore, now: Int64) async throws {
        for (i, id) in products.prefix(20).enumerated() {
            _ = try await store.upsertProduct(Product(id: id, name: id, leadTimeDays: 2 + i % 5, serviceLevel: i % 3 == 0 ? 0.99 : 0.9,
                                                      fillRate: i % 4 == 0 ? 0.97 : nil, createdAtMillis: now - 60 * day, updatedAtMillis: now - 60 * day))
        }
        try await store.saveReplenishmentOverride(ReplenishmentOverride(leadTimeDays: 9, fillRate: 0.9), storeID: "S1", productID: "P03", dueMarker: -1)
        // A store's service level over the product's fill rate: the target is the service level, whole.
        try await store.saveReplenishmentOverride(ReplenishmentOverride(serviceLevel: 0.8), storeID: "S1", productID: "P04", dueMarker: -1)
        var requests: [WriteRequest] = []
        for s in stores {
            for p in products {
                requests.append(WriteRequest(commands: [try MovementCommand(storeID: s, productID: p, change: .delta(40), reason: .receipt,
                                                                            occurredAtMillis: now - 30 * day)], actor: "t"))
            }
            for (i, p) in products.enumerated() where i % 2 == 0 {
                for d in 1...28 {
                    requests.append(WriteRequest(commands: [try MovementCommand(storeID: s, productID: p, change: .delta(-Int64(1 + i % 3)), reason: .sale,
                                                                                occurredAtMillis: now - Int64(d) * day)], actor: "t"))
                }
            }
        }
        for result in await store.applyInOrder(requests) { _ = try result.get() }
        for p in ["P10", "P11", "P12"] {
            try await store.saveThresholds(StockThresholds(dailyRate: 2, reorderPoint: 60, orderUpTo: 90, leadTimeDays: 3, anomalyAbove: 1000,
                                                           historyDays: 28, computedAtMillis: now), storeID: "S1", productID: p)
        }
        for p in ["P13", "P14", "P15"] {
            try await store.saveThresholds(StockThresholds(dailyRate: 1, reorderPoint: 2, orderUpTo: 10, leadTimeDays: 3, anomalyAbove: 1000,
                                                           historyDays: 28, computedAtMillis: now), storeID: "S1", productID: p)
            _ = try await store.recordAlerts(inserted: [Alert(id: "alr_\(p)", kind: .lowStock, status: .open, storeID: "S1", productID: p, quantity: 1,
                                                              threshold: 2, message: "low", openedAtMillis: now - day)], changed: [])
        }
    }

    /// The batch: a sale of every item of both stores, then for some a second movement (a large sale, a receipt).
    static func batch(_ store: any StockStore) async throws -> [Movement] {
        var requests: [WriteRequest] = []
        for s in stores {
            for (i, p) in products.enumerated() {
                requests.append(WriteRequest(commands: [try command(s, p, delta: -Int64(1 + i % 4))], actor: "t"))
            }
            for p in ["P02", "P11", "P21"] { requests.append(WriteRequest(commands: [try command(s, p, delta: -30, reason: .sale)], actor: "t")) }
            for p in ["P04", "P13"] { requests.append(WriteRequest(commands: [try command(s, p, delta: 5)], actor: "t")) }
            requests.append(WriteRequest(commands: [try MovementCommand(storeID: s, productID: "P06", change: .quantity(0), reason: .count)], actor: "t"))
        }
        return try await store.applyInOrder(requests).flatMap { try $0.get().movements }
    }

    /// What a judgement leaves in storage, for both stores: every alert (ids aside) and every item's thresholds (a
    /// due mark's random value aside).
    static func outcome(_ store: any StockStore) async throws -> [String] {
        var lines: [String] = []
        for s in stores {
            for a in try await store.alerts(storeID: s, productID: nil, kind: nil, status: nil, beforeSequence: nil, limit: 1000) {
                lines.append("\(a.storeID) \(a.productID) \(a.kind) \(a.status) \(a.quantity) \(a.threshold ?? -1) \(a.message) \(a.openedAtMillis) \(a.resolvedAtMillis ?? -1)")
            }
            for p in products {
                var t = try await store.thresholds(storeID: s, productID: p)
                if let computed = t?.computedAtMillis, computed <= 0 { t?.computedAtMillis = 0 }
                lines.append("\(s) \(p) \(t.map { "\($0)" } ?? "none")")
            }
        }
        return lines.sorted()
    }

    @Test(arguments: Backend.available)
    func aPreparedBatchJudgesEachMovementAsItWouldAloneInAFewReadsAStore(_ backend: Backend) async throws {
        let now = WallClock.system.nowMillis()
        let clock = TestClock(now)
        var outcomes: [[String]] = [], reads: [Int] = [], opened: [Int] = []
        for prepared in [false, true] {
            let db = TestDatabase(backend)
            let store = try await openIntelligenceStore(db, clock: clock.clock)
            try await Self.history(store, now: now)
            let movements = try await Self.batch(store)
            let intelligence = IntelligenceService(store: store, clock: clock.clock)
            let before = (store as? MySQLStockStore)?.readsRun ?? 0
            if prepared { try await intelligence.prepareEvaluation(of: movements) }
            var recorded = 0
            for movement in movements { recorded += try await intelligence.evaluate(movement).count }
            reads.append(((store as? MySQLStockStore)?.readsRun ?? 0) - before)
            opened.append(recorded)
            outcomes.append(try await Self.outcome(store))
            try await store.close()
        }
        #expect(outcomes[0] == outcomes[1])
        // Not a vacuous comparison: alerts were opened and resolved, first thresholds stored.
        let alone = outcomes[0].joined(separator: "\n")
        for kind in [" lowStock open ", " lowStock resolved ", " negativeStock open ", " demandAnomaly open ", " overstock open ", " stockOut open "] {
            #expect(alone.contains(kind), "\(kind) in \(alone)")
        }
        #expect(opened[0] >= 10 && !alone.contains(" none"), "alerts opened; every item evaluated has thresholds")
        #expect(alone.contains("S1 P04 StockThresholds") && alone.contains("serviceLevel(0.8)"), "the override's target")
        if backend == .mariadb { #expect(reads[1] * 3 < reads[0] * 2, "reads alone \(reads[0]), prepared \(reads[1])") }
    }

    /// A batch of receipts that changes no alert, for items never evaluated, 105 in one store (two lists of the batch's
    /// reads) and 20 in another (a Kafka ingestion reaching a chain's items): prepared, it costs each store five
    /// reads (connections taken: the thresholds, the items' parameters, their demand rows, one transaction of first
    /// thresholds, the active alerts); alone, each item six.
    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB: counts the store's round trips"))
    func aQuietBatchCostsFiveReadsAStoreWhereEachItemAloneCostSix() async throws {
        let now = WallClock.system.nowMillis()
        var reads: [Int] = []
        for prepared in [false, true] {
            let db = TestDatabase(.mariadb)
            let store = try await openIntelligenceStore(db, clock: .system)
            var requests: [WriteRequest] = []
            for (s, p) in Self.quietPairs {
                // 53 received a month ago, one sold a day since: 25 on hand, a day's demand, nothing to report.
                var commands = [try MovementCommand(storeID: s, productID: p, change: .delta(53), reason: .receipt, occurredAtMillis: now - 30 * Self.day)]
                for d in 1...28 {
                    commands.append(try MovementCommand(storeID: s, productID: p, change: .delta(-1), reason: .sale, occurredAtMillis: now - Int64(d) * Self.day))
                }
                requests.append(WriteRequest(commands: commands, actor: "t"))
            }
            for p in Set(Self.quietPairs.map(\.1)) {
                _ = try await store.upsertProduct(Product(id: p, name: p, createdAtMillis: now - 60 * Self.day, updatedAtMillis: now - 60 * Self.day))
            }
            for result in await store.applyInOrder(requests) { _ = try result.get() }
            let movements = try await store.applyInOrder(Self.quietPairs.map { s, p in
                WriteRequest(commands: [try! command(s, p, delta: 1)], actor: "t")
            }).map { try $0.get().movements[0] }
            // The level as the node holds it in memory: no round trip of its own.
            let levels = Dictionary(uniqueKeysWithValues: movements.map {
                ("\($0.storeID)/\($0.productID)", StockLevel(quantity: $0.quantityAfter, version: $0.version, updatedAtMillis: now))
            })
            let intelligence = IntelligenceService(store: store, currentLevel: { s, p, _ in levels["\(s)/\(p)"] })
            let mysql = try #require(store as? MySQLStockStore)
            let before = mysql.readsRun
            if prepared { try await intelligence.prepareEvaluation(of: movements) }
            var recorded = 0
            for movement in movements { recorded += try await intelligence.evaluate(movement).count }
            reads.append(mysql.readsRun - before)
            #expect(recorded == 0, "a quiet batch")
            for (s, p) in Self.quietPairs { #expect(try await store.thresholds(storeID: s, productID: p) != nil, "\(s) \(p)") }
            try await store.close()
        }
        #expect(reads == [Self.quietPairs.count * 6, 2 * 5], "reads alone, then prepared")
    }


    /// Two nodes evaluating one batch at once (a rebalance delivers it to both), each on a clock of its own so that
    /// their first thresholds differ: one row per pair is stored, and each node holds that row, its own computation
    /// where it won the insert, the other's where it lost (`saveThresholds` counts fewer than it was given, and the
    /// batch reads the survivors back). Ten rounds, so that the nodes' reads and inserts interleave.
    @Test(arguments: Backend.available)
    func twoNodesPreparingOneBatchAtOnceKeepOneRowAPairAndHoldIt(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let stores = [try await openIntelligenceStore(db), try await openIntelligenceStore(db)]
        let now = WallClock.system.nowMillis()
        let nodes = (0..<2).map { IntelligenceService(store: stores[$0], clock: TestClock(now + Int64($0)).clock) }
        for p in (0..<30).map({ "N\($0)" }) {
            _ = try await stores[0].upsertProduct(Product(id: p, name: p, createdAtMillis: now - Self.day, updatedAtMillis: now - Self.day))
        }
        for round in 0..<10 {
            let pairs = (0..<30).map { ("R\(round)", "N\($0)") }
            let movements = try await stores[0].applyInOrder(pairs.map { s, p in WriteRequest(commands: [try! command(s, p, delta: 5)], actor: "t") })
                .map { try $0.get().movements[0] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask {
                        try await node.prepareEvaluation(of: movements)
                        for movement in movements { _ = try await node.evaluate(movement) }
                    }
                }
                try await group.waitForAll()
            }
            for (s, p) in pairs {
                let stored = try #require(try await stores[0].thresholds(storeID: s, productID: p))
                for (n, node) in nodes.enumerated() {
                    #expect(try await node.thresholds(storeID: s, productID: p) == stored, "node \(n) holds another row than storage's for \(s) \(p)")
                }
            }
        }
        for store in stores { try await store.close() }
    }

    static let quietPairs = (0..<105).map { ("S1", String(format: "Q%03d", $0)) } + (0..<20).map { ("S2", String(format: "Q%03d", $0)) }
}
