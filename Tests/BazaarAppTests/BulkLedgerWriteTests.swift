import BazaarCore
import BazaarDomain
@testable import BazaarMySQL
import Foundation
import MySQLClient
import Testing

/// Issue 15: on MariaDB, a large group commit writes its ledger rows, idempotency records and stock rows as bulk
/// executions (`MySQLBulkRows`: the server parses nothing), below `bulkMinimumRows` and on MySQL as multi-row text. Both paths
/// must commit the same thing, and the bulk path must stay exact when two nodes' batches claim the same keys.
@Suite(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
struct BulkLedgerWriteTests {
    static func store(_ db: borrowing TestDatabase, bulk: Bool) async throws -> MySQLStockStore {
        var options = MySQLStockStore.Options(primary: try MySQLConfiguration(url: db.url))
        options.primary.bulkExecution = bulk
        let store = MySQLStockStore(options: options)
        try await store.migrate()
        return store
    }

    /// Keyed requests with references, actors and keys of every legal character (marks, quotes, backslashes,
    /// emoji, the whole of Unicode's planes), some with a reference and some without.
    static func requests(_ count: Int, keyPrefix: String = "") throws -> [WriteRequest] {
        var random = SystemRandomNumberGenerator()
        return try (0..<count).map { i in
            let reference = i % 3 == 0 ? nil
                : String(MySQLBulkExecutionTexts.printable(maxLength: 128, using: &random).prefix(128))
            let command = try MovementCommand(storeID: "S\(i % 13)", productID: "P\(i % 61)", change: .delta(Int64(i % 9) + 1),
                                              reason: .receipt, reference: reference)
            let actor = "kafka:" + MySQLBulkExecutionTexts.printable(maxLength: i % 100 == 0 ? 900 : 20, using: &random)
            let key = keyPrefix + "\(i)-" + MySQLBulkExecutionTexts.printable(maxLength: 40, using: &random)
            return WriteRequest(commands: [command], actor: actor,
                                idempotency: IdempotencyClaim(scope: "commands:t", key: key, fingerprint: String(repeating: "0", count: 58) + String(format: "%06x", i)))
        }
    }

    static func ledger(_ db: borrowing TestDatabase) throws -> (movements: [MySQLRow], records: [MySQLRow], levels: [MySQLRow], unmatched: Int64) {
        let connection = try OutboxRangeTests.rawConnection(db)
        defer { connection.close() }
        let movements = try connection.select("""
            SELECT seq, store_id, product_id, delta, quantity_before, quantity_after, version, reason, reference, actor
            FROM stock_movements ORDER BY seq
            """)
        let records = try connection.select("SELECT scope, `key`, fingerprint FROM idempotency_keys ORDER BY scope, `key`")
        let levels = try connection.select("""
            SELECT store_id, product_id, quantity, version, demand_day, demand_sold, demand_returned, demand_in_stock, demand_closing
            FROM stock_levels ORDER BY store_id, product_id
            """)
        // Each record names the movement written for it.
        let unmatched = try connection.select("""
            SELECT COUNT(*) FROM idempotency_keys i LEFT JOIN stock_movements m ON m.movement_id = i.movement_ids WHERE m.seq IS NULL
            """)[0].int(0)
        return (movements, records, levels, unmatched)
    }

    @Test func aBatchWrittenInBulkCommitsWhatTheTextPathCommits() async throws {
        let requests = try Self.requests(3000)
        let bulkDB = TestDatabase(.mariadb), textDB = TestDatabase(.mariadb)
        let bulk = try await Self.store(bulkDB, bulk: true), text = try await Self.store(textDB, bulk: false)
        let before = StorageMetrics.rowsWrittenInBulk
        // Two batches: the first inserts the stock rows, the second updates them (`ON DUPLICATE KEY UPDATE`).
        let bulkResults = await bulk.applyInOrder(Array(requests[..<1500])) + bulk.applyInOrder(Array(requests[1500...]))
        // Process-wide (other suites write in bulk too): a coarse check. `LedgerClockTests` holds that a flush of
        // this size takes the bulk path, `MySQLBulkExecutionTests` that MariaDB's connections offer it.
        #expect(StorageMetrics.rowsWrittenInBulk - before >= 6000 + 2 * 793, "the ledger rows, the records and the stock rows went in bulk")
        let textResults = await text.applyInOrder(Array(requests[..<1500])) + text.applyInOrder(Array(requests[1500...]))
        #expect(try bulkResults.map { try $0.get().movements.map(\.quantityAfter) } == textResults.map { try $0.get().movements.map(\.quantityAfter) })
        let a = try Self.ledger(bulkDB), b = try Self.ledger(textDB)
        #expect(a.movements.count == 3000 && a.records.count == 3000)
        #expect(a.movements == b.movements, "ledger rows differ between the bulk and the text path")
        #expect(a.records == b.records, "idempotency records differ")
        #expect(a.levels == b.levels)
        #expect(a.unmatched == 0 && b.unmatched == 0)
        // A redelivery replays: nothing new in either.
        let again = await bulk.applyInOrder(requests)
        #expect(try again.allSatisfy { try $0.get().replayed })
        #expect(try Self.ledger(bulkDB).movements.count == 3000)
        try await bulk.close()
        try await text.close()
    }

    /// Two nodes take the same 2,000 commands at once (a rebalance): their bulk inserts of the same keys collide, the
    /// loser's batch runs again and replays what the winner wrote. Every command is applied once.
    @Test func twoNodesWritingTheSameKeysInBulkApplyEachCommandOnce() async throws {
        let db = TestDatabase(.mariadb)
        let first = try await Self.store(db, bulk: true), second = try await Self.store(db, bulk: true)
        let requests = try Self.requests(2000, keyPrefix: "race-")
        async let a = first.applyInOrder(requests)
        async let b = second.applyInOrder(requests)
        let (ra, rb) = await (a, b)
        for (x, y) in zip(ra, rb) {
            let one = try x.get(), other = try y.get()
            #expect(one.movements.map(\.movementID) == other.movements.map(\.movementID), "both nodes answer with the one movement")
        }
        let ledger = try Self.ledger(db)
        #expect(ledger.movements.count == 2000 && ledger.records.count == 2000 && ledger.unmatched == 0)
        let connection = try OutboxRangeTests.rawConnection(db)
        defer { connection.close() }
        #expect(try connection.select("""
            SELECT COUNT(*) FROM stock_levels l WHERE l.quantity <> (SELECT SUM(delta) FROM stock_movements m
                WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
            """)[0].int(0) == 0, "every level is the sum of its ledger")
        try await first.close()
        try await second.close()
    }

    static func prefixed(_ requests: [WriteRequest], _ prefix: String) -> [WriteRequest] {
        requests.map { request in
            var request = request
            if let claim = request.idempotency { request.idempotency = IdempotencyClaim(scope: claim.scope, key: prefix + claim.key, fingerprint: claim.fingerprint) }
            return request
        }
    }

    /// The same keys, other pairs: neither batch waits for the other's stock rows, so both insert the same records
    /// in bulk at once, and the one that inserts second waits on the first's rows, then fails on their keys. Run
    /// again, it finds the records and replays the first's movements: nothing of its own is written.
    @Test func aBulkInsertOfKeysAnotherBatchHoldsFailsAndReplays() async throws {
        let db = TestDatabase(.mariadb)
        let first = try await Self.store(db, bulk: true), second = try await Self.store(db, bulk: true)
        // Both read their records first: a batch taking its keys as new would meet the other's (1062) even after its
        // commit, and `collided` would prove nothing (`IdempotencyReadsTests` holds that path).
        for store in [first, second] { store.idempotencyReads.readAlways() }
        let requests = try Self.requests(1500, keyPrefix: "dup-")
        let elsewhere = try requests.map { request in
            let command = try MovementCommand(storeID: "T" + request.commands[0].storeID, productID: request.commands[0].productID,
                                              change: request.commands[0].change, reason: .receipt)
            return WriteRequest(commands: [command], actor: request.actor, idempotency: request.idempotency)
        }
        var collided = 0
        for round in 0..<5 where collided == 0 {
            let ours = Self.prefixed(requests, "r\(round)-"), theirs = Self.prefixed(elsewhere, "r\(round)-")
            async let a = first.applyInOrder(ours)
            async let b = second.applyInOrder(theirs)
            let (ra, rb) = await (a, b)
            let winners = try zip(ra, rb).map { x, y in try x.get().replayed ? y.get() : x.get() }
            let losers = try zip(ra, rb).map { x, y in try x.get().replayed ? x.get() : y.get() }
            #expect(losers.allSatisfy(\.replayed) && !winners.contains(where: \.replayed), "one batch wrote, the other replayed it")
            #expect(zip(winners, losers).allSatisfy { $0.movements.map(\.movementID) == $1.movements.map(\.movementID) })
            collided = first.writeRetries.count(.duplicateKey) + second.writeRetries.count(.duplicateKey)
        }
        #expect(collided > 0, "the bulk inserts collided on their keys in five rounds")
        let ledger = try Self.ledger(db)
        #expect(ledger.records.count == ledger.movements.count && ledger.unmatched == 0)
        try await first.close()
        try await second.close()
    }
}

/// Printable text of every plane (no control characters: references refuse them), with the bytes the text
/// protocol escapes.
enum MySQLBulkExecutionTexts {
    static func printable<G: RandomNumberGenerator>(maxLength: Int, using random: inout G) -> String {
        let specials: [Unicode.Scalar] = ["'", "\"", "\\", "%", "_", "\u{301}", "\u{FEFF}", "🛒", "\u{10FFFD}", "|", ":", ","]
        var text = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxLength, using: &random) {
            if Bool.random(using: &random) {
                text.append(specials.randomElement(using: &random)!)
            } else if let scalar = Unicode.Scalar(UInt32.random(in: 0x20...0x10FFFF, using: &random)),
                      scalar.properties.generalCategory != .control {
                text.append(scalar)
            }
        }
        return String(text)
    }
}
