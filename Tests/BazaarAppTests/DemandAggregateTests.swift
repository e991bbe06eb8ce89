@testable import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import BazaarSQLite
import Foundation
import Logging
import MySQLClient
import ServiceLifecycle
import Testing

/// A clock a test moves by hand.
final class TestClock: Sendable {
    let millis: Locked<Int64>
    init(_ millis: Int64) { self.millis = Locked(millis) }
    var clock: WallClock { WallClock { [millis] in millis.withLock { $0 } } }
    func advance(millis delta: Int64) { millis.withLock { $0 += delta } }
}

/// An engine with its daily demand and recompute-pass storage, on a given clock.
func openIntelligenceStore(_ db: borrowing TestDatabase, clock: WallClock = .system) async throws -> any StockStore & DemandStore & IntelligencePassStore {
    let store: any StockStore & DemandStore & IntelligencePassStore
    switch db.backend {
    case .sqlite: store = try SQLiteStockStore(path: String(db.url.dropFirst("sqlite://".count)), clock: clock)
    case .mariadb: store = MySQLStockStore(options: .init(primary: try MySQLConfiguration(url: db.url)), clock: clock)
    }
    try await store.migrate()
    return store
}

/// Invariant (issue 14): the daily demand rows kept in the transaction of every ledger write equal the rollup of
/// the ledger, and the history read from them is the one `DemandHistory.daily` computes from the ledger.
@Suite("Daily demand beside the ledger")
struct DemandAggregateTests {
    static let stores = ["S1", "S2", "S3"], products = ["P1", "P2", "P3", "P4"]

    /// A random command: sales, returns, receipts, counts, transfers, damage, adjustments, on one of the last ten
    /// days (out of order: a backdated movement after later ones), often taking the level to zero or below.
    static func randomCommand(_ rng: inout some RandomNumberGenerator, today: Int64, store: String? = nil) throws -> MovementCommand {
        let storeID = store ?? stores.randomElement(using: &rng)!, productID = products.randomElement(using: &rng)!
        let at = (today - Int64.random(in: 0...9, using: &rng)) * 86_400_000 + Int64.random(in: 0..<86_400_000, using: &rng)
        let occurred: Int64? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : min(at, Int64(Date().timeIntervalSince1970 * 1000))
        let units = Int64.random(in: 1...6, using: &rng)
        let (change, reason): (StockChange, MovementReason) = switch Int.random(in: 0..<10, using: &rng) {
        case 0, 1, 2: (.delta(-units), .sale)
        case 3: (.delta(units), .return)
        case 4: (.delta(units * 2), .receipt)
        case 5: (.quantity(Int64.random(in: 0...3, using: &rng)), .count)
        case 6: (.delta(units), .transferIn)
        case 7: (.delta(-units), .transferOut)
        case 8: (.delta(-1), .damage)
        default: (.quantity(0), .adjustment)
        }
        return try MovementCommand(storeID: storeID, productID: productID, change: change, reason: reason, occurredAtMillis: occurred)
    }

    /// Writes `count` random requests, many at once (so that they share group commits), some with two commands.
    static func writeRandom(_ store: any StockStore, count: Int, seed: UInt64, today: Int64) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var rng = SplitMix64(seed: seed)  // the demo's generator: a failing sequence can be replayed
            for _ in 0..<count {
                var commands = [try randomCommand(&rng, today: today)]
                if Int.random(in: 0..<4, using: &rng) == 0 { commands.append(try randomCommand(&rng, today: today)) }
                let request = WriteRequest(commands: commands, actor: "fuzz")
                group.addTask {
                    do { _ = try await store.apply(request) } catch is DomainError {}  // a command refused for want of stock
                }
            }
            try await group.waitForAll()
        }
    }

    /// Every store x product: the demand rows equal the rollup of its ledger, and the history from them equals
    /// `DemandHistory.daily` of the ledger over the same days.
    static func expectAggregatesEqualLedger(_ store: any StockStore & DemandStore, today: Int64, since: Int64) async throws {
        var pairs = 0
        for storeID in stores {
            for productID in products {
                let ledger = try await store.movements(storeID: storeID, productID: productID, sinceMillis: 0)
                let days = try await store.demandDays(storeID: storeID, productID: productID, sinceDay: since)
                #expect(days == DemandDays.rollup(ledger).filter { $0.day >= since }, "\(storeID)/\(productID)")
                guard let first = ledger.map({ RFC3339.epochDay(millis: $0.atMillis) }).min() else { continue }
                pairs += 1
                let fromLedger = DemandHistory.daily(ledger, firstDay: first, lastDay: today - 1)
                let fromRows = DemandHistory.daily(days: days, firstDay: first, lastDay: today - 1)
                #expect(fromRows.sold == fromLedger.sold && fromRows.censored == fromLedger.censored, "\(storeID)/\(productID)")
            }
        }
        #expect(pairs > 6, "the random writes reached most pairs")
    }

    @Test(arguments: Backend.available)
    func aggregatesEqualTheLedgerForRandomMovements(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await openIntelligenceStore(db)
        let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
        for round in 0..<4 {
            try await Self.writeRandom(store, count: 120, seed: UInt64(round + 1) * 7919, today: today)
        }
        // Reservations and transfers in transit write the ledger through transactions of their own.
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: 40, reason: .receipt)], actor: "t"))
        let reservations = try #require(store as? any ReservationStore), transfers = try #require(store as? any TransferStore)
        let held = try await reservations.createReservation(reservation("S1", "P1", quantity: 2), idempotency: nil)
        _ = try await reservations.fulfilReservation(id: held.reservation.id, actor: "till")  // a sale
        let shipped = try await transfers.shipTransfer(TransferInTransitTests.transfer(3, from: "S1", to: "S2"), actor: "van", idempotency: nil)
        _ = try await transfers.receiveTransfer(id: shipped.transfer.id, quantity: nil, actor: "S2")
        try await Self.expectAggregatesEqualLedger(store, today: today, since: today - 30)
        // What a rebuild from the ledger (an upgraded database) finds is what the writes kept.
        let before = try await store.demandDays(storeID: "S1", productIDs: nil, sinceDay: today - 30)
        switch store {
        case let sqlite as SQLiteStockStore: try await sqlite.backfillDemand(sinceDay: today - 30, storesPerBatch: 2, restart: true)
        case let mysql as MySQLStockStore: try await mysql.backfillDemand(sinceDay: today - 30, storesPerBatch: 2, restart: true)
        default: Issue.record("unknown engine")
        }
        #expect(try await store.demandDays(storeID: "S1", productIDs: nil, sinceDay: today - 30) == before)
        try await Self.expectAggregatesEqualLedger(store, today: today, since: today - 30)
        try await store.close()
    }

    @Test func aBackfillRebuildsRowsThatWereNeverKept() async throws {
        // An upgraded database: the rows are gone (as before the table existed); the rebuild makes them exact.
        let db = TestDatabase(.sqlite)
        let store = try await openIntelligenceStore(db)
        let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
        try await Self.writeRandom(store, count: 200, seed: 42, today: today)
        let sqlite = try #require(store as? SQLiteStockStore)
        try await sqlite.backfillDemand(sinceDay: today + 1, storesPerBatch: 1, restart: true)  // leaves every row out: as if never kept
        #expect(try await store.demandDays(storeID: "S1", productIDs: nil, sinceDay: 0).isEmpty)
        try await sqlite.backfillDemand(sinceDay: today - 30, storesPerBatch: 1, restart: true)
        try await Self.expectAggregatesEqualLedger(store, today: today, since: today - 30)
        try await store.close()
    }

    /// Two nodes write the same pairs at once on MariaDB (their batches interleave under the stock row locks).
    @Test func concurrentWritersOnTwoNodesKeepTheAggregatesExact() async throws {
        guard Backend.available.contains(.mariadb) else { return }
        let db = TestDatabase(.mariadb)
        let first = try await openIntelligenceStore(db), second = try await openIntelligenceStore(db)
        let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, node) in [first, second].enumerated() {
                group.addTask {
                    for round in 0..<3 { try await Self.writeRandom(node, count: 100, seed: UInt64(index * 100 + round + 1), today: today) }
                }
            }
            try await group.waitForAll()
        }
        try await Self.expectAggregatesEqualLedger(first, today: today, since: today - 30)
        try await first.close()
        try await second.close()
    }

    @Test(arguments: Backend.available)
    func theStoreTrendIsUnitsSoldPerDayInOneRead(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await openIntelligenceStore(db)
        let now = Int64(Date().timeIntervalSince1970 * 1000), today = RFC3339.epochDay(millis: now)
        func at(_ day: Int64) -> Int64 { min(now, day * 86_400_000 + 3_600_000) }
        _ = try await store.apply(WriteRequest(commands: [
            try MovementCommand(storeID: "S1", productID: "P1", change: .delta(50), reason: .receipt, occurredAtMillis: at(today - 3)),
            try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-4), reason: .sale, occurredAtMillis: at(today - 2)),
            try MovementCommand(storeID: "S1", productID: "P2", change: .delta(-3), reason: .sale, occurredAtMillis: at(today - 2)),
            try MovementCommand(storeID: "S1", productID: "P1", change: .delta(1), reason: .return, occurredAtMillis: at(today - 2)),
            try MovementCommand(storeID: "S2", productID: "P1", change: .delta(-2), reason: .sale, occurredAtMillis: at(today)),
            try MovementCommand(storeID: "S3", productID: "P1", change: .delta(-9), reason: .sale, occurredAtMillis: at(today)),
        ], actor: "t"))
        // The trend's today is the test's (a clock stopped at `now`): a run across midnight UTC would shift the window.
        let intelligence = IntelligenceService(store: store, clock: WallClock { now })
        let trends = try await intelligence.storeTrends(storeIDs: ["S1", "S2", "S9"], days: 3)
        #expect(trends.firstEpochDay == today - 3, "the window's first day, from the same clock reading")
        #expect(trends.units["S1"] == [0, 6, 0, 0], "4 + 3 sold, 1 returned, two days ago")
        #expect(trends.units["S2"] == [0, 0, 0, 2])
        #expect(trends.units["S9"] == [0, 0, 0, 0], "a store without sales gets zeros")
        #expect(trends.units["S3"] == nil, "only the page asked for")
        await #expect(throws: DomainError.self) { try await intelligence.storeTrends(storeIDs: ["S1"], days: 91) }
        try await store.close()
    }
}
