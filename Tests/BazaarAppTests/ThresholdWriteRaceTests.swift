import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import Testing

/// The stored thresholds of one store x product have several writers on several nodes: the first evaluation of a
/// movement, a demand anomaly marking them due, a settings PUT re-deriving them, the recompute pass. Each writes only
/// over the row it read (`IntelligencePassStore.saveThresholds` with `expectedComputedAt`), and every write that marks
/// a row due names itself (`IntelligenceService.dueMarker`), so that a writer holding an older due row never takes
/// a later one for it. (CI met each of these: a settings PUT's service level lost to a fill rate read before it.)
@Suite struct ThresholdWriteRaceTests {
    static let fillRate = ReplenishmentTarget.fillRate(0.97)

    /// A store with P1 (fill rate 0.97) in stock at S1 and a row of thresholds with a dispersion (so that a settings
    /// PUT re-derives it) computed a second ago.
    static func stocked(_ store: any StockStore) async throws {
        _ = try await store.upsertProduct(Product(id: "P1", name: "Tea", fillRate: 0.97, createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: 500)], actor: "t"))
        try await store.saveThresholds(
            StockThresholds(dailyRate: 2, reorderPoint: 10, orderUpTo: 40, leadTimeDays: 3, anomalyAbove: 5, historyDays: 60,
                            computedAtMillis: WallClock.system.nowMillis() - 1000, dispersion: 1.2, target: fillRate),
            storeID: "S1", productID: "P1")
    }

    static func sale(_ store: any StockStore) async throws -> Movement {
        try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: -50, reason: .sale)], actor: "t")).movements[0]
    }

    /// Node A holds a row a demand anomaly already marked due; node B's settings PUT then re-derives it for a service
    /// level. A's next anomaly must not write its older due row back: both rows are due, and with one due mark (0)
    /// for all, A took B's row for the one it had read.
    @Test(arguments: Backend.available)
    func anOlderDueRowIsNotWrittenBackOverASettingsPut(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let nodeA = IntelligenceService(store: store), nodeB = IntelligenceService(store: store)
        try await Self.stocked(store)
        _ = try await nodeA.evaluate(try await Self.sale(store))  // an anomaly: the row is marked due
        let due = try #require(try await store.thresholds(storeID: "S1", productID: "P1"))
        #expect(due.computedAtMillis <= 0 && due.target == Self.fillRate, "\(due)")
        #expect(try await nodeA.thresholds(storeID: "S1", productID: "P1") == due, "node A holds the due row")

        try await nodeB.setOverride(ReplenishmentOverride(serviceLevel: 0.9), storeID: "S1", productID: "P1")
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.target == .serviceLevel(0.9))
        _ = try await nodeA.evaluate(try await Self.sale(store))  // another anomaly, over the row A holds
        let kept = try #require(try await store.thresholds(storeID: "S1", productID: "P1"))
        #expect(kept.target == .serviceLevel(0.9), "the PUT's target stays: \(kept)")
        #expect(kept.computedAtMillis <= 0, "and its row is still due for the pass")
        try await store.close()
    }

    /// The recompute pass read the item's candidates (a due row, the product's fill rate) before a settings PUT set a
    /// service level: its write, over the row it read, is refused, and the PUT's row stays.
    @Test(arguments: Backend.available)
    func aPassThatReadBeforeASettingsPutDoesNotWriteOverIt(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let intelligence = IntelligenceService(store: store)
        try await Self.stocked(store)
        _ = try await intelligence.evaluate(try await Self.sale(store))  // marked due
        let pass = try #require(store as? any IntelligencePassStore)
        let candidate = try #require(try await pass.recomputeCandidates(storeID: "S1").first)
        #expect(candidate.fillRate == 0.97)

        try await intelligence.setOverride(ReplenishmentOverride(serviceLevel: 0.9), storeID: "S1", productID: "P1")
        var computed = try #require(try await store.thresholds(storeID: "S1", productID: "P1"))
        computed.target = Self.fillRate
        computed.computedAtMillis = WallClock.system.nowMillis()
        let written = try await pass.saveThresholds([("P1", computed, expectedComputedAt: candidate.computedAtMillis)], storeID: "S1")
        #expect(written == 0)
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.target == .serviceLevel(0.9))
        try await store.close()
    }

    /// Two settings PUTs on two nodes: each re-derives the row only while it still carries the due mark its own
    /// override wrote. Here B's PUT comes after A's mark, so A's derived row (for A's override) is not written, and
    /// the stored target is the override stored last.
    @Test(arguments: Backend.available)
    func aSettingsPutReDerivesOnlyTheRowItsOwnOverrideMarked(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let intelligence = IntelligenceService(store: store)
        try await Self.stocked(store)
        let markA = IntelligenceService.dueMarker()
        try await store.saveReplenishmentOverride(ReplenishmentOverride(serviceLevel: 0.8), storeID: "S1", productID: "P1", dueMarker: markA)
        try await intelligence.setOverride(ReplenishmentOverride(serviceLevel: 0.9), storeID: "S1", productID: "P1")  // B, complete
        let derivedA = try await intelligence.reDerive(storeID: "S1", productID: "P1", override: ReplenishmentOverride(serviceLevel: 0.8),
                                                       dueMarker: markA)
        #expect(derivedA == false, "A's mark was replaced by B's")
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.target == .serviceLevel(0.9))
        #expect(try await store.replenishmentOverride(storeID: "S1", productID: "P1")?.serviceLevel == 0.9)
        try await store.close()
    }

    /// An item's first evaluation computes and stores thresholds only where none are stored: a row written since it
    /// looked (the pass, a PUT on another node) stays.
    @Test(arguments: Backend.available)
    func aFirstEvaluationStoresOnlyWhereNoRowIs(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        try await Self.stocked(store)
        let pass = try #require(store as? any IntelligencePassStore)
        let other = StockThresholds(dailyRate: 9, reorderPoint: 1, orderUpTo: 2, leadTimeDays: 1, anomalyAbove: 1, computedAtMillis: 5)
        #expect(try await pass.saveThresholds([("P1", other, expectedComputedAt: nil)], storeID: "S1") == 0)
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.orderUpTo == 40)
        #expect(try await pass.saveThresholds([("P2", other, expectedComputedAt: nil)], storeID: "S1") == 1)
        try await store.close()
    }
}

extension ThresholdWriteRaceTests {
    /// The pass read an item with no thresholds (the product's fill rate in force) before a settings PUT set a service
    /// level for the store: the PUT had no row to mark, and the pass's row, computed now, carries neither a due mark
    /// nor a time older than the change (overrides keep none). The row was sized for a target no longer in force, so
    /// it is due, and the next walk sizes it for the service level. The same holds for a lead time and a review
    /// period replaced under a writer holding the older ones.
    @Test(arguments: Backend.available)
    func aRowSizedForATargetNoLongerInForceIsDue(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        let intelligence = IntelligenceService(store: store)
        let pass = try #require(store as? any IntelligencePassStore)
        _ = try await store.upsertProduct(Product(id: "P1", name: "Tea", fillRate: 0.97, createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: 500)], actor: "t"))
        let candidate = try #require(try await pass.recomputeCandidates(storeID: "S1").first)
        #expect(candidate.computedAtMillis == nil && candidate.fillRate == 0.97)

        try await intelligence.setOverride(ReplenishmentOverride(serviceLevel: 0.9), storeID: "S1", productID: "P1")
        let sizedForTheReadTarget = StockThresholds(dailyRate: 2, reorderPoint: 10, orderUpTo: 40, leadTimeDays: Product.defaultLeadTimeDays,
                                                    anomalyAbove: 5, computedAtMillis: WallClock.system.nowMillis(), target: Self.fillRate)
        #expect(try await pass.saveThresholds([("P1", sizedForTheReadTarget, expectedComputedAt: candidate.computedAtMillis)], storeID: "S1") == 1)
        #expect(try await intelligence.dueItems(storeID: "S1").map(\.productID) == ["P1"], "sized for the fill rate the PUT replaced")
        _ = try await intelligence.recompute(storeID: "S1")
        #expect(try await store.thresholds(storeID: "S1", productID: "P1")?.target == .serviceLevel(0.9))
        #expect(try await intelligence.dueItems(storeID: "S1").isEmpty, "and then not due again")

        // The same for a product PUT, whose time can come before the pass's clock (it is read before the commit).
        _ = try await store.upsertProduct(Product(id: "P1", name: "Tea", leadTimeDays: 9, serviceLevel: 0.9, createdAtMillis: 1, updatedAtMillis: 2))
        try await store.saveReplenishmentOverride(ReplenishmentOverride(), storeID: "S1", productID: "P1", dueMarker: -5)
        var old = try #require(try await store.thresholds(storeID: "S1", productID: "P1"))
        old.computedAtMillis = WallClock.system.nowMillis()
        #expect(try await pass.saveThresholds([("P1", old, expectedComputedAt: -5)], storeID: "S1") == 1)
        #expect(try await intelligence.dueItems(storeID: "S1").map(\.productID) == ["P1"], "sized for a lead time no longer in force")

        // And for a review period (the order-up-to level covers lead time and review period), as the pass meets it:
        // it read P2 with no row, a PUT of a 21-day review period found no row to mark, and the pass then stored its
        // row sized for the 7 days it had read.
        _ = try await intelligence.recompute(storeID: "S1")
        _ = try await store.upsertProduct(Product(id: "P2", name: "Rice", createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P2", delta: 500)], actor: "t"))
        let read = try #require(try await pass.recomputeCandidates(storeID: "S1").first { $0.productID == "P2" })
        #expect(read.computedAtMillis == nil)
        try await intelligence.setOverride(ReplenishmentOverride(reviewPeriodDays: 21), storeID: "S1", productID: "P2")
        let sizedForSevenDays = StockThresholds(dailyRate: 2, reorderPoint: 10, orderUpTo: 40, leadTimeDays: Product.defaultLeadTimeDays,
                                                anomalyAbove: 5, computedAtMillis: WallClock.system.nowMillis(),
                                                target: .serviceLevel(Product.defaultServiceLevel), reviewPeriodDays: Product.defaultReviewPeriodDays)
        #expect(try await pass.saveThresholds([("P2", sizedForSevenDays, expectedComputedAt: nil)], storeID: "S1") == 1)
        #expect(try await intelligence.dueItems(storeID: "S1").map(\.productID) == ["P2"], "sized for a review period no longer in force")
        _ = try await intelligence.recompute(storeID: "S1")
        #expect(try await store.thresholds(storeID: "S1", productID: "P2")?.reviewPeriodDays == 21)
        #expect(try await intelligence.dueItems(storeID: "S1").isEmpty, "and then not due again")
        // A settings PUT re-derives the row for the period it sets, and says so in the row.
        try await intelligence.setOverride(ReplenishmentOverride(reviewPeriodDays: 14), storeID: "S1", productID: "P2")
        #expect(try await store.thresholds(storeID: "S1", productID: "P2")?.reviewPeriodDays == 14)
        try await store.close()
    }
}
