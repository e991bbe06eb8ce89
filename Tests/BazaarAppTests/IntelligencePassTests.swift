import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import Logging
import Testing

/// The recompute pass (issue 14): only due items, store by store, shared between nodes by a lease per store.
@Suite("Intelligence recompute pass", .ownConsistencyTokens)
struct IntelligencePassTests {
    static let day: Int64 = 86_400_000

    /// A chain of `stores` x `products` with five weeks of sales up to yesterday: every day, every second or every third day.
    static func seed(_ store: any StockStore, stores: Int, products: Int, clock: TestClock) async throws {
        let today = RFC3339.epochDay(millis: clock.clock.nowMillis())
        var commands: [MovementCommand] = []
        for s in 0..<stores {
            for p in 0..<products {
                let storeID = "S\(s)", productID = "P\(p)"
                commands.append(try MovementCommand(storeID: storeID, productID: productID, change: .delta(500), reason: .receipt,
                                                    occurredAtMillis: (today - 36) * day))
                let every = Int64(p % 3 + 1), units = Int64(p % 5 + 1)
                for d in (today - 35)..<today where (d + Int64(p)) % every == 0 {
                    let at: Int64 = d * day + 36_000_000
                    commands.append(try MovementCommand(storeID: storeID, productID: productID, change: .delta(-units), reason: .sale, occurredAtMillis: at))
                }
            }
        }
        for start in stride(from: 0, to: commands.count, by: 90) {
            _ = try await store.apply(WriteRequest(commands: Array(commands[start..<min(start + 90, commands.count)]), actor: "seed"))
        }
    }

    @Test(arguments: Backend.available)
    func aPassEvaluatesOnlyWhatChangedOrAged(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let clock = TestClock((RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000)) - 1) * Self.day + 12 * 3_600_000)
        let store = try await openIntelligenceStore(db, clock: clock.clock)
        try await Self.seed(store, stores: 3, products: 6, clock: clock)
        let intelligence = IntelligenceService(store: store, clock: clock.clock, recomputeAfterMillis: 20 * 3_600_000)
        let pass = IntelligencePass(intelligence: intelligence, logger: Logger(label: "test"))

        let first = try await pass.walkOnce()
        #expect(first.stores == 3 && first.items == 18 && first.evaluated == 18, "every item is evaluated once: \(first)")
        #expect(first.automatic > 0 && first.automatic < 18, "the fast methods for slow movers, the automatic choice for the rest: \(first)")
        let computed = try #require(try await store.thresholds(storeID: "S1", productID: "P4"))
        #expect(computed.historyDays >= 20 && computed.dailyRate > 0)
        #expect(try await pass.walkOnce().evaluated == 0, "nothing changed: nothing evaluated")

        // One sale today: not due yet (history is complete days); once the day has ended, that item alone is.
        clock.advance(millis: 3_600_000)
        _ = try await store.apply(WriteRequest(commands: [try MovementCommand(storeID: "S2", productID: "P3", change: .delta(-40), reason: .sale)], actor: "t"))
        #expect(try await pass.walkOnce().evaluated == 0)
        clock.advance(millis: 12 * 3_600_000)  // past midnight, under the 20 h age
        let next = try await pass.walkOnce()
        #expect(next.evaluated == 1, "only the item that moved: \(next)")
        let after = try #require(try await store.thresholds(storeID: "S2", productID: "P3"))
        #expect(after.computedAtMillis == clock.clock.nowMillis())
        #expect(try await store.thresholds(storeID: "S1", productID: "P4") == computed, "the others were left alone")

        // A product's parameters changed: its items in every store.
        _ = try await store.upsertProduct(Product(id: "P5", name: "Jam", leadTimeDays: 9, createdAtMillis: 0, updatedAtMillis: clock.clock.nowMillis() + 1))
        clock.advance(millis: 1000)
        let parameters = try await pass.walkOnce()
        #expect(parameters.evaluated == 3, "P5 in three stores: \(parameters)")
        #expect(try await store.thresholds(storeID: "S0", productID: "P5")?.leadTimeDays == 9)

        // Past the age: everything again.
        clock.advance(millis: 20 * 3_600_000)
        #expect(try await pass.walkOnce().evaluated == 18)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func twoNodesShareThePassWithoutEvaluatingAnItemTwice(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let clock = TestClock(Int64(Date().timeIntervalSince1970 * 1000))
        let nodeA = try await openIntelligenceStore(db, clock: clock.clock), nodeB = try await openIntelligenceStore(db, clock: clock.clock)
        try await Self.seed(nodeA, stores: 12, products: 5, clock: clock)
        let passes = [nodeA, nodeB].enumerated().map { index, store in
            IntelligencePass(intelligence: IntelligenceService(store: store, clock: clock.clock), logger: Logger(label: "test"), holder: "node-\(index)",
                             pageSize: 5)
        }
        let walks = try await withThrowingTaskGroup(of: IntelligencePass.Walk.self) { group in
            for pass in passes { group.addTask { try await pass.walkOnce() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(walks.map(\.evaluated).reduce(0, +) == 60, "every item evaluated exactly once between the two nodes: \(walks)")
        #expect(walks.allSatisfy { $0.stores == 12 && $0.failed == 0 })
        // A full pass (`bazaar intelligence recompute --all --workers 2`): every pair once between the walkers.
        clock.advance(millis: 1000)
        let before = clock.clock.nowMillis()
        let full = try await withThrowingTaskGroup(of: IntelligencePass.Walk.self) { group in
            for pass in passes { group.addTask { try await pass.walkOnce(computedBefore: before) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(full.map(\.evaluated).reduce(0, +) == 60, "a full pass shared by two walkers: \(full)")
        try await nodeA.close()
        try await nodeB.close()
    }

    @Test(arguments: Backend.available)
    func thePassKeepsThresholdsWrittenAfterItReadTheCandidates(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await openIntelligenceStore(db)
        func thresholds(_ rate: Double, at millis: Int64) -> StockThresholds {
            StockThresholds(dailyRate: rate, reorderPoint: 1, orderUpTo: 2, leadTimeDays: 3, anomalyAbove: 9, computedAtMillis: millis)
        }
        try await store.saveThresholds(thresholds(1, at: 100), storeID: "S1", productID: "P1")
        // The pass read P1 at 100 and P2 absent; meanwhile someone wrote P1 at 200 and P2 at 300.
        try await store.saveThresholds(thresholds(2, at: 200), storeID: "S1", productID: "P1")
        try await store.saveThresholds(thresholds(3, at: 300), storeID: "S1", productID: "P2")
        let written = try await store.saveThresholds([("P1", thresholds(9, at: 400), 100), ("P2", thresholds(9, at: 400), nil),
                                                      ("P3", thresholds(9, at: 400), nil)], storeID: "S1")
        #expect(written == 1, "only P3, still as read")
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.dailyRate == 2)
        #expect(try await store.thresholds(storeID: "S1", productID: "P2")?.dailyRate == 3)
        #expect(try await store.thresholds(storeID: "S1", productID: "P3")?.dailyRate == 9)
        try await store.close()
    }

    @Test func aLeaseHeldByANodeThatDiedIsTakenOverWhenItExpires() async throws {
        let db = TestDatabase(.sqlite)
        let clock = TestClock(Int64(Date().timeIntervalSince1970 * 1000))
        let store = try await openIntelligenceStore(db, clock: clock.clock)
        try await Self.seed(store, stores: 2, products: 3, clock: clock)
        // A node took S0 and died (a restart): its lease stands until it expires.
        #expect(try await store.claimPass(storeID: "S0", holder: "dead", nowMillis: clock.clock.nowMillis(), leaseMillis: 120_000))
        #expect(try await !store.claimPass(storeID: "S0", holder: "other", nowMillis: clock.clock.nowMillis(), leaseMillis: 120_000))
        let pass = IntelligencePass(intelligence: IntelligenceService(store: store, clock: clock.clock), logger: Logger(label: "test"), holder: "restarted")
        let during = try await pass.walkOnce()
        #expect(during.leasedElsewhere == 1 && during.evaluated == 3, "\(during)")
        clock.advance(millis: 120_001)
        let after = try await pass.walkOnce()
        #expect(after.evaluated == 3 && after.leasedElsewhere == 0, "\(after)")
        #expect(try await store.thresholds(storeID: "S0", productID: "P0") != nil)
        try await store.close()
    }

    @Test func thePassMetricsAreExported() async throws {
        let db = TestDatabase()
        let system = try await BazaarSystem.start(configuration: Harness.configuration(db.url), logger: Logger(label: "test"))
        _ = try await system.store.apply(WriteRequest(commands: [try MovementCommand(storeID: "S1", productID: "P1", change: .delta(5), reason: .receipt)], actor: "t"))
        #expect(try await system.intelligencePass.walkOnce().stores == 1)
        try await system.application().test(.router) { client in
            let text = try await client.call(.get, "/metrics", key: nil).body
            #expect(text.contains("bazaar_intelligence_pairs_evaluated_total"))
            #expect(text.contains("bazaar_intelligence_oldest_threshold_age_seconds"))
        }
    }
}
