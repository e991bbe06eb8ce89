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
        // Per product (products come in no set order: on MariaDB a pair with only a latest day comes after the rest).
        let after = try await store.demandDays(storeID: "S1", productIDs: nil, sinceDay: today - 30)
        #expect(Dictionary(grouping: after, by: \.productID) == Dictionary(grouping: before, by: \.productID))
        try await Self.expectAggregatesEqualLedger(store, today: today, since: today - 30)
        // Writes after the rebuild add to the days it wrote (on MariaDB the rebuild leaves every day in the table and
        // the stock rows count theirs afresh: both places then hold today).
        try await Self.writeRandom(store, count: 120, seed: 5, today: today)
        try await Self.expectAggregatesEqualLedger(store, today: today, since: today - 30)
        try await store.close()
    }

    /// A rebuild while pairs get their first writes (no stock row to lock yet): each of their days is counted once,
    /// in the rebuilt rows or on the new stock row, never both (a batch that raced one runs again). It fails when a
    /// duplicate key of the rebuild's insert is not taken for the race; the count check of `backfillDemandBatch`
    /// covers a first write that commits between the batch's reset of the stock rows and its insert, a window of one
    /// round trip that this test does not reliably reach (without the check it passed three runs of three).
    @Test func aRebuildWhilePairsGetTheirFirstWritesCountsEachDayOnce() async throws {
        guard Backend.available.contains(.mariadb) else { return }
        let db = TestDatabase(.mariadb)
        let store = try await openIntelligenceStore(db), writer = try await openIntelligenceStore(db)
        let mysql = try #require(store as? MySQLStockStore)
        let now = Int64(Date().timeIntervalSince1970 * 1000), today = RFC3339.epochDay(millis: now)
        try await Self.writeRandom(store, count: 200, seed: 11, today: today)
        let newPairs = (0..<240).map { (store: Self.stores[$0 % 3], product: "N\($0)") }
        let writing = Locked(true)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { writing.withLock { $0 = false } }
                for (index, pair) in newPairs.enumerated() {
                    // Today's receipt and a sale: of today (every day on the new row), or backdated (a day settled
                    // into the table, which the rebuild's insert then also writes: a duplicate key).
                    _ = try await writer.apply(WriteRequest(commands: [
                        try MovementCommand(storeID: pair.store, productID: pair.product, change: .delta(9), reason: .receipt, occurredAtMillis: now),
                        try MovementCommand(storeID: pair.store, productID: pair.product, change: .delta(-2), reason: .sale,
                                            occurredAtMillis: now - Int64(index % 2 == 0 ? 0 : 1 + index % 5) * 86_400_000),
                    ], actor: "first"))
                }
            }
            group.addTask {
                var runs = 0
                while writing.withLock({ $0 }) || runs == 0 {
                    try await mysql.backfillDemand(sinceDay: today - 30, storesPerBatch: 1, restart: true)
                    runs += 1
                }
            }
            try await group.waitForAll()
        }
        for (storeID, productID) in newPairs.map({ ($0.store, $0.product) }) + Self.stores.flatMap({ s in Self.products.map { (s, $0) } }) {
            let ledger = try await store.movements(storeID: storeID, productID: productID, sinceMillis: 0)
            #expect(try await store.demandDays(storeID: storeID, productID: productID, sinceDay: today - 30) == DemandDays.rollup(ledger),
                    "\(storeID)/\(productID)")
        }
        try await writer.close()
        try await store.close()
    }

    /// On MariaDB a pair's latest day is on its stock row and only a day that a later one replaced is written to
    /// `stock_demand_daily` (issue 15: an upsert of the table for every pair of every group commit cost the primary
    /// and the replica 11-16% of their CPU in a Kafka ingestion). A backdated movement goes to the table; a rebuild
    /// moves every day there; reads merge both places all along.
    @Test func theLatestDayIsOnTheStockRowAndOnlySettledDaysAreInTheTable() async throws {
        guard Backend.available.contains(.mariadb) else { return }
        let db = TestDatabase(.mariadb)
        let store = try await openIntelligenceStore(db)
        let mysql = try #require(store as? MySQLStockStore)
        let connection = MySQLConnection(configuration: try MySQLConfiguration(url: db.url))
        try connection.open()
        defer { connection.close() }
        let now = Int64(Date().timeIntervalSince1970 * 1000), today = RFC3339.epochDay(millis: now)
        func write(_ delta: Int64, _ reason: MovementReason, day: Int64) async throws {
            let at = min(now, day * 86_400_000 + 3_600_000)
            _ = try await store.apply(WriteRequest(commands: [
                try MovementCommand(storeID: "S1", productID: "P1", change: .delta(delta), reason: reason, occurredAtMillis: at),
            ], actor: "t"))
        }
        func tableDays() throws -> [Int64] {
            try connection.select("SELECT day FROM stock_demand_daily WHERE store_id = 'S1' AND product_id = 'P1' ORDER BY day").map { try $0.int(0) }
        }
        func rowDay() throws -> Int64? {
            try connection.select("SELECT demand_day FROM stock_levels WHERE store_id = 'S1' AND product_id = 'P1'").first?.optionalInt(0)
        }
        func expectExact(_ comment: Comment) async throws {
            let ledger = try await store.movements(storeID: "S1", productID: "P1", sinceMillis: 0)
            #expect(try await store.demandDays(storeID: "S1", productID: "P1", sinceDay: today - 30) == DemandDays.rollup(ledger), comment)
            #expect(try await store.demandDays(storeID: "S1", productIDs: ["P1"], sinceDay: today - 30) == DemandDays.rollup(ledger), comment)
        }
        try await write(50, .receipt, day: today - 2)
        for _ in 0..<4 { try await write(-2, .sale, day: today - 2) }
        #expect(try tableDays() == [] && rowDay() == today - 2, "five group commits of one day: no row in the table")
        try await expectExact("the day on the row")
        try await write(-3, .sale, day: today - 1)
        #expect(try tableDays() == [today - 2] && rowDay() == today - 1, "a later day settles the one before")
        try await write(1, .return, day: today - 3)
        #expect(try tableDays() == [today - 3, today - 2] && rowDay() == today - 1, "a backdated day goes to the table")
        try await expectExact("days in both places")
        try await mysql.backfillDemand(sinceDay: today - 30, storesPerBatch: 1, restart: true)
        #expect(try tableDays() == [today - 3, today - 2, today - 1] && rowDay() == nil, "a rebuild puts every day in the table")
        try await expectExact("after the rebuild")
        try await write(-1, .sale, day: today - 1)
        #expect(try rowDay() == today - 1, "the row counts its day afresh")
        try await expectExact("the table's day and the row's merged")
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
            try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-5), reason: .sale, occurredAtMillis: at(today - 3)),
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
        #expect(trends.units["S1"] == [5, 6, 0, 0], "5 sold three days ago (on MariaDB a day the table holds), 4 + 3 sold, 1 returned, two days ago")
        #expect(trends.units["S2"] == [0, 0, 0, 2])
        #expect(trends.units["S9"] == [0, 0, 0, 0], "a store without sales gets zeros")
        #expect(trends.units["S3"] == nil, "only the page asked for")
        await #expect(throws: DomainError.self) { try await intelligence.storeTrends(storeIDs: ["S1"], days: 91) }
        try await store.close()
    }
}
