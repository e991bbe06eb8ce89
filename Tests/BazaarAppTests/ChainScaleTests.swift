import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import BazaarSQLite
import Foundation
import Logging
import Testing

/// Issue 14: the demo's bulk path leaves what the write path would (invariant 1, audit fields, versions, no outbox
/// flood), and every audit filter set walks an index in the ledger's order, a time window as a sequence range.
@Suite struct ChainScaleTests {
    static let logger = Logger(label: "test")

    /// Every ledger row in sequence order, read on the primary.
    static func ledger(_ store: any StockStore) async throws -> [Movement] {
        var all: [Movement] = []
        while true {
            let page = try await store.movements(afterSequence: all.last?.sequence ?? 0, limit: 1000)
            all += page
            if page.count < 1000 { return all }
        }
    }

    // MARK: The bulk path

    /// 110 products a store (past the API's batch of 100), 35 days (a monthly count), chunks of 700 movements (split
    /// inside a day and inside a store's history): every row chains from the one before it, every level is the sum
    /// of its ledger with its version counting the rows, the history queued no event, and the write path carries on.
    @Test(arguments: Backend.available)
    func aBulkLoadedDemoKeepsEveryLedgerInvariant(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let system = try await Harness.system(db.url)
        var demo = DemoData()
        demo.stores = 4
        demo.products = 130
        demo.productsPerStore = 110
        demo.days = 35
        demo.chunkMovements = 700
        let summary = try #require(try await demo.load(into: system, logger: Self.logger))
        try await system.store.close()
        let store = try await Stores.open(db)

        let ledger = try await Self.ledger(store)
        #expect(ledger.count == summary.movements && ledger.count > 4 * 110 * 20)
        var pairs: [String: (quantity: Int64, version: Int64)] = [:]
        var previousSequence: Int64 = 0
        for m in ledger {
            #expect(m.sequence > previousSequence)
            previousSequence = m.sequence
            let key = m.storeID + "/" + m.productID
            let before = pairs[key] ?? (0, 0)
            #expect(m.quantityBefore == before.quantity && m.quantityAfter == before.quantity + m.delta && m.version == before.version + 1,
                    "\(key) at \(m.sequence)")
            #expect(m.movementID.count == 36 && !m.actor.isEmpty && m.reference != nil && m.recordedAtMillis > 0 && m.atMillis > 0)
            pairs[key] = (m.quantityAfter, m.version)
        }
        #expect(Set(ledger.map(\.movementID)).count == ledger.count)
        #expect(Set(ledger.map(\.reason)).isSuperset(of: [.count, .sale, .receipt]))
        // The shape of the demo: slow movers sell on few days, others on most.
        let saleDays = Dictionary(grouping: ledger.filter { $0.reason == .sale }, by: { $0.storeID + "/" + $0.productID }).mapValues(\.count)
        #expect(saleDays.values.contains { $0 < 35 / 2 } && saleDays.values.contains { $0 > 35 * 2 / 3 })

        var levels = 0
        for storeID in ["S1001", "S1002", "S1003", "S1004"] {
            for row in try await store.levels(storeID: storeID, afterProductID: nil, limit: 1000) {
                levels += 1
                let expected = try #require(pairs[storeID + "/" + row.productID])
                #expect(row.level.quantity == expected.quantity && row.level.version == expected.version, "\(storeID)/\(row.productID)")
            }
        }
        #expect(levels == pairs.count && levels >= 4 * 110)
        let sample = try #require(ledger.last)
        let totals = try await store.ledgerTotals(storeID: sample.storeID, productID: sample.productID)
        #expect(totals.sum == pairs[sample.storeID + "/" + sample.productID]?.quantity && totals.rows == sample.version)

        // The daily demand rows are the rollup of the loaded ledger, as the write path keeps them: every pair's (the
        // generator hands SQLite its rows made pair-day by pair-day, MariaDB rolls the chunk's movements up).
        let demand = try #require(store as? any DemandStore)
        for key in pairs.keys.sorted() {
            let parts = key.split(separator: "/").map(String.init)
            let expected = DemandDays.rollup(ledger.filter { $0.storeID == parts[0] && $0.productID == parts[1] })
            #expect(try await demand.demandDays(storeID: parts[0], productID: parts[1], sinceDay: 0) == expected, "\(key)")
        }

        // A day's window of a store is exactly its rows of the day: the chunk's sequences (SQLite binds 50 movements an
        // INSERT and reads them back from the last row id) are the ones the rows got, or `ledger_days` would be off.
        for dayStart in Set(ledger.map { $0.atMillis / Self.day * Self.day }).sorted() {
            var window = AuditQuery()
            window.storeID = "S1002"
            window.sinceMillis = dayStart
            window.untilMillis = dayStart + Self.day
            window.limit = 1000
            let expected = ledger.filter { Self.matches($0, window) }.reversed().map(\.movementID)
            #expect(try await store.auditLog(window).map(\.movementID) == Array(expected), "day \(dayStart / Self.day)")
        }

        // History is not news: only the transfers (through the write path) queued events.
        #expect(try await store.outboxDepth() <= 40)

        // The write path carries on after the loaded ledger: the next sequence, the next version.
        let receipt = try await store.apply(WriteRequest(commands: [try command(sample.storeID, sample.productID, delta: 3)], actor: "after"))
        let next = try #require(receipt.movements.first)
        #expect(next.sequence > (ledger.last?.sequence ?? 0) && next.version == sample.version + 1
                && next.quantityBefore == pairs[sample.storeID + "/" + sample.productID]?.quantity)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func publishedHistoryQueuesAnEventPerMovement(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let system = try await Harness.system(db.url)
        var demo = DemoData()
        demo.stores = 2
        demo.products = 10
        demo.productsPerStore = 5
        demo.days = 5
        demo.publishHistory = true
        let summary = try #require(try await demo.load(into: system, logger: Self.logger))
        #expect(try await system.store.outboxDepth() == summary.movements)
        try await system.store.close()
    }

    @Test func chainSizesPastTheLoadersBoundsAreRefusedInWords() throws {
        var demo = DemoData()
        demo.stores = 50_000
        demo.products = 1000
        demo.productsPerStore = 101
        var error = try #require(throws: DemoSizeError.self) { try demo.validate() }
        #expect(CommandLineErrors.sentence(for: error)
                == "--stores x --products-per-store must be at most 5000000 store x product pairs (got 5050000); pass fewer stores or products per store.")
        demo.productsPerStore = 100
        demo.days = 41
        error = try #require(throws: DemoSizeError.self) { try demo.validate() }
        #expect(CommandLineErrors.sentence(for: error).hasPrefix("--days x store x product pairs must be at most 200000000"))
        demo.days = 40
        try demo.validate()
    }

    // MARK: Audit queries

    /// What a filter set means, on one movement (the brute force the engines are compared with).
    static func matches(_ m: Movement, _ query: AuditQuery) -> Bool {
        if let storeID = query.storeID, storeID != m.storeID { return false }
        if let productID = query.productID, productID != m.productID { return false }
        if let actor = query.actor, actor != m.actor { return false }
        if let reason = query.reason, reason != m.reason { return false }
        if let since = query.sinceMillis, m.atMillis < since { return false }
        if let until = query.untilMillis, m.atMillis >= until { return false }
        return true
    }

    static let day: Int64 = 86_400_000
    static let t0: Int64 = 1_800_000_000_000 / day * day

    /// Every combination of the six filters, with and without a cursor.
    static func everyFilterSet(since: Int64, until: Int64, cursor: Int64) -> [AuditQuery] {
        (0..<64).flatMap { mask in
            [nil, cursor].map { before in
                AuditQuery(storeID: mask & 1 != 0 ? "S1" : nil, productID: mask & 2 != 0 ? "P1" : nil, actor: mask & 4 != 0 ? "till-1" : nil,
                           reason: mask & 8 != 0 ? .sale : nil, sinceMillis: mask & 16 != 0 ? since : nil,
                           untilMillis: mask & 32 != 0 ? until : nil, beforeSequence: before, limit: 3)
            }
        }
    }

    /// A regression to a full scan or a sort fails here rather than in a benchmark: every filter set's plan walks the
    /// index `AuditQuery.indexName` names (the primary key for none), newest first, with no sort.
    @Test(arguments: Backend.available)
    func everyAuditFilterSetWalksAnIndexWithoutSorting(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        for index in 0..<20 {
            _ = try await store.apply(WriteRequest(commands: [
                try MovementCommand(storeID: "S\(index % 3)", productID: "P\(index % 4)", change: .delta(-1), reason: .sale,
                                    occurredAtMillis: Self.t0 + Int64(index) * Self.day / 2),
            ], actor: "till-\(index % 2)"))
        }
        for query in Self.everyFilterSet(since: Self.t0 + Self.day, until: Self.t0 + 3 * Self.day, cursor: 15) {
            let hasRange = query.ledgerDays != nil || query.beforeSequence != nil
            switch backend {
            case .sqlite:
                let sqlite = try #require(store as? SQLiteStockStore)
                let plan = try await sqlite.explainAuditLog(query)
                #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(query): \(plan)")
                if let index = query.indexName {
                    #expect(plan.count == 1 && plan[0].hasPrefix("SEARCH stock_movements USING INDEX \(index) ("), "\(query): \(plan)")
                } else if query.ledgerDays != nil {
                    #expect(plan == ["SEARCH stock_movements USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"], "\(query): \(plan)")
                } else if hasRange {
                    #expect(plan == ["SEARCH stock_movements USING INTEGER PRIMARY KEY (rowid<?)"], "\(query): \(plan)")
                } else {
                    #expect(plan == ["SCAN stock_movements"], "\(query): \(plan)")
                }
            case .mariadb:
                let mysql = try #require(store as? MySQLStockStore)
                let plan = try await mysql.explainAuditLog(query)
                #expect(plan.count == 1 && plan[0].contains(" key=\(query.indexName ?? "PRIMARY") "), "\(query): \(plan)")
                #expect(!plan.contains { $0.contains("filesort") || $0.contains("temporary") }, "\(query): \(plan)")
                if query.indexName != nil || hasRange { #expect(!plan.contains { $0.hasPrefix("type=ALL") }, "\(query): \(plan)") }
            }
        }
        try await store.close()
    }

    /// The sequence ranges of `ledger_days` lose nothing: movements recorded days after they happened (a till that
    /// was offline) and windows before, across, after and between the rows, every filter set, paged 3 at a time,
    /// answer exactly what filtering the whole ledger answers.
    @Test(arguments: Backend.available)
    func timeWindowsAnswerExactlyTheLedgersRowsEvenRecordedLate(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Stores.open(db)
        // Five days in order, then rows of days 0 and 2 recorded after them.
        let days: [Int64] = [0, 0, 1, 1, 1, 2, 3, 3, 4, 4, 4, 0, 2, 0]
        for (index, day) in days.enumerated() {
            _ = try await store.apply(WriteRequest(commands: [
                try MovementCommand(storeID: "S\(index % 2)", productID: "P\(index % 3)", change: .delta(index % 3 == 0 ? 2 : -1),
                                    reason: index % 3 == 0 ? .receipt : .sale, occurredAtMillis: Self.t0 + day * Self.day + Int64(index) * 1000),
            ], actor: "till-\(index % 2)"))
        }
        let ledger = try await Self.ledger(store)
        let dayWindows: [(Int64?, Int64?)] = [(0, 1), (2, 3), (1, 3), (-3, 0), (5, 9), (nil, 1), (3, nil), (2, 2), (3, 1), (nil, nil)]
        for (sinceDay, untilDay) in dayWindows {
            let since: Int64? = sinceDay.map { Self.t0 + $0 * Self.day }
            let until: Int64? = untilDay.map { Self.t0 + $0 * Self.day }
            for mask in 0..<16 {
                var query = AuditQuery(storeID: mask & 1 != 0 ? "S0" : nil, productID: mask & 2 != 0 ? "P0" : nil,
                                       actor: mask & 4 != 0 ? "till-0" : nil, reason: mask & 8 != 0 ? .receipt : nil,
                                       sinceMillis: since, untilMillis: until, limit: 3)
                let expected = ledger.reversed().filter { m in Self.matches(m, query) }.map(\.sequence)
                var answered: [Int64] = []
                while true {
                    let page = try await store.auditLog(query)
                    answered += page.map(\.sequence)
                    guard page.count == 3, let last = page.last else { break }
                    query.beforeSequence = last.sequence
                }
                #expect(answered == expected, "\(query)")
            }
        }
        try await store.close()
    }
}
