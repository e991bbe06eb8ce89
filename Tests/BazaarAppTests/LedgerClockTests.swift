import BazaarCore
import BazaarDomain
@testable import BazaarMySQL
import Foundation
@testable import MySQLClient
import Testing

/// Issue 15: a group commit takes `ledger_clock` (the row that orders sequences by commit, held to the commit) only
/// after the writes that need no sequence, so that they overlap with another batch's ledger inserts and commit.
/// What may go before the clock is what cannot make its holder wait for a batch that waits for the clock.
@Suite("The ledger clock taken last", .enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
struct LedgerClockTests {
    /// Records what a flush writes, in order, and answers the clock with made-up sequences.
    final class RecordingStatements: LedgerStatements {
        let connection: MySQLConnection
        var written: [String] = []
        init(connection: MySQLConnection) { self.connection = connection }
        func literal(_ value: MySQLValue) throws(MySQLError) -> String { try connection.literal(value) }
        func valueRows(reservingBytes: Int) -> SQLValueRows { connection.valueRows(reservingBytes: reservingBytes) }
        func write(_ sql: String) throws { written.append(sql) }
        /// As MariaDB's connections answer (`theBulkPathKeepsTheClockLastAndTheKeysInOrder`), or as MySQL's.
        var takesBulk = false
        /// The rows of each bulk execution, by its place in `written`.
        var bulkRows: [Int: MySQLBulkRows] = [:]
        func writeBulk(_ sql: String, _ rows: MySQLBulkRows) throws {
            bulkRows[written.count] = rows
            written.append("BULK " + sql)
        }
        func reserveSequences(_ count: Int) throws -> [Int64] {
            written.append("CLOCK")
            return (1...Int64(count)).map { 1000 + $0 }
        }
    }

    @Test func onlyTheLedgerRowsTheirDaysAndTheOutboxAreWrittenAfterTheClockAndKeysGoInOrder() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: 5)], actor: "t"))
        let connection = try OutboxRangeTests.rawConnection(db)
        defer { connection.close() }
        var tx = MySQLLedgerTransaction(connection: connection)
        let keys = [MySQLLedgerTransaction.Key(storeID: "S1", productID: "P1"), .init(storeID: "S2", productID: "P1")]
        try tx.begin(locking: keys, claims: [])
        for (index, key) in ["k9", "k1", "k5"].enumerated() {
            let claim = IdempotencyClaim(scope: "s", key: key, fingerprint: "f")
            // The last one backdated: its day settles into stock_demand_daily (the row keeps today's).
            let change = index == 2
                ? try MovementCommand(storeID: "S1", productID: "P1", change: .delta(1), reason: .receipt,
                                      occurredAtMillis: WallClock.system.nowMillis() - 86_400_000)
                : try command(index == 0 ? "S2" : "S1", "P1", delta: 1)
            let request = WriteRequest(commands: [change], actor: "t", idempotency: claim)
            _ = try LedgerWrite.apply(request, in: &tx, nowMillis: WallClock.system.nowMillis())
        }
        let recorder = RecordingStatements(connection: connection)
        _ = try tx.flush(into: recorder)
        connection.rollback()

        let clock = try #require(recorder.written.firstIndex(of: "CLOCK"))
        let before = recorder.written[..<clock], after = recorder.written[(clock + 1)...]
        #expect(before.contains { $0.contains("INSERT INTO stock_levels") } && before.contains { $0.contains("INSERT INTO idempotency_keys") }
                && before.contains { $0.contains("INSERT INTO stock_demand_daily") })
        #expect(!before.contains { $0.contains("stock_movements") || $0.contains("ledger_days") || $0.contains("outbox") })
        let allowedAfter = ["INSERT INTO stock_movements", "INSERT INTO ledger_days", "INSERT INTO outbox_ranges"]
        #expect(after.allSatisfy { sql in allowedAfter.contains { sql.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix($0) } }, "\(Array(after))")
        let idempotency = try #require(before.first { $0.contains("INSERT INTO idempotency_keys") })
        let order = ["'k1'", "'k5'", "'k9'"].map { idempotency.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil } && order == order.sorted { $0! < $1! }, "idempotency records in key order: \(idempotency)")
        try await store.close()
    }

    /// With bulk executions (MariaDB), the same order: new stock rows, then changed ones (an upsert), then the
    /// records, each in key order, before the clock; the ledger rows after it. (Two nodes' records inserted out of
    /// key order deadlock: `twoNodesClaimingTheSameKeysInOppositeOrdersNeverDeadlock`.)
    @Test func theBulkPathKeepsTheClockLastAndTheKeysInOrder() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        let n = MySQLLedgerTransaction.bulkMinimumRows  // the fewest rows that go in bulk
        // The first n pairs' rows exist (they are upserted), the next n are new (inserted).
        for result in await store.applyInOrder(try (0..<n).map { WriteRequest(commands: [try command("S\($0)", "P1", delta: 1)], actor: "t") }) {
            _ = try result.get()
        }
        let connection = try OutboxRangeTests.rawConnection(db)
        defer { connection.close() }
        var tx = MySQLLedgerTransaction(connection: connection)
        let keys = (0..<(2 * n)).map { MySQLLedgerTransaction.Key(storeID: "S\($0)", productID: "P1") }
        try tx.begin(locking: keys, claims: [])
        for (index, key) in (0..<(2 * n)).map({ "k\(($0 * 17) % (2 * n))" }).enumerated() {
            let request = WriteRequest(commands: [try command("S\(index)", "P1", delta: 1)], actor: "t",
                                       idempotency: IdempotencyClaim(scope: "s", key: key, fingerprint: "f"))
            _ = try LedgerWrite.apply(request, in: &tx, nowMillis: WallClock.system.nowMillis())
        }
        let recorder = RecordingStatements(connection: connection)
        recorder.takesBulk = true
        _ = try tx.flush(into: recorder)
        connection.rollback()
        func position(_ prefix: String, upsert: Bool? = nil) throws -> Int {
            try #require(recorder.written.firstIndex { $0.hasPrefix(prefix) && (upsert == nil || $0.contains("ON DUPLICATE KEY UPDATE") == upsert) })
        }
        func column(_ index: Int, at position: Int) -> [String] {
            let rows = recorder.bulkRows[position]!
            return rows.texts[index].map { String(decoding: rows.textBytes[$0.offset..<($0.offset + $0.length)], as: UTF8.self) }
        }
        let clock = try #require(recorder.written.firstIndex(of: "CLOCK"))
        let inserted = try position("BULK INSERT INTO stock_levels", upsert: false)
        let upserted = try position("BULK INSERT INTO stock_levels", upsert: true)
        let records = try position("BULK INSERT INTO idempotency_keys"), ledger = try position("BULK INSERT INTO stock_movements")
        #expect(inserted < clock && upserted < clock && records < clock && clock < ledger)
        #expect(!recorder.written.contains { ["INSERT INTO idempotency_keys", "INSERT INTO stock_movements", "INSERT INTO stock_levels"].contains(where: $0.hasPrefix) },
                "no text inserts beside the bulk executions")
        for (rows, stores) in [(inserted, (n..<(2 * n)).map { "S\($0)" }), (upserted, (0..<n).map { "S\($0)" })] {
            #expect(column(0, at: rows) == stores.sorted(), "stock rows in key order, each in its statement")
        }
        #expect(column(1, at: records) == column(1, at: records).sorted() && column(1, at: records).count == 2 * n, "records in key order")
        #expect(recorder.bulkRows[ledger]?.count == 2 * n)
        try await store.close()
    }

    /// The pipelined path sends what is still queued before the clock's update, in the same round trip: a statement
    /// queued before `reserveSequences` reads the clock as it was before the sequences were taken.
    @Test func aPipelinedFlushRunsTheQueuedWritesBeforeTheClock() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        var configuration = try MySQLConfiguration(url: db.url)
        configuration.multiStatements = true
        let connection = MySQLConnection(configuration: configuration)
        try connection.open()
        defer { connection.close() }
        try connection.begin()
        let pipeline = PipelinedStatements(connection: connection)
        try pipeline.write("SET @clock_before = (SELECT seq FROM ledger_clock WHERE id = 1)")
        let sequences = try pipeline.reserveSequences(5)
        #expect(try pipeline.finish().isEmpty, "the queued statement went with the clock")
        let before = try #require(try connection.query("SELECT @clock_before").first?.int(0))
        #expect(sequences == Array((before + 1)...(before + 5)), "the queued write ran before the clock moved: \(before), \(sequences)")
        connection.rollback()
        try await store.close()
    }

    /// Two nodes claim the same idempotency keys for different requests (a key reused by two clients, a command id
    /// produced twice with other contents) on pairs of their own, in opposite orders, at once. The records are now
    /// inserted before the clock, side by side: in key order the later batch waits for the first and then finds the
    /// key taken (a duplicate key, run again, refused as a reused key), where in request order the two inserts
    /// deadlocked. Each key ends applied once, by one node, and neither node ever ran a batch again after a deadlock.
    @Test func twoNodesClaimingTheSameKeysInOppositeOrdersNeverDeadlock() async throws {
        let db = TestDatabase(.mariadb)
        let nodes = [try await Stores.open(db), try await Stores.open(db)]
        // Batches that read their records first: one taking its keys as new would meet the other's records (1062)
        // whether or not the two ran at once, and the check below would prove nothing (`IdempotencyReadsTests`
        // holds that path).
        for node in nodes { (node as! MySQLStockStore).idempotencyReads.readAlways() }
        // Batches of a Kafka poll's size, so that the two nodes' inserts of records last long enough to meet.
        let (rounds, keysPerRound) = (6, 1000)
        for node in ["A", "B"] {  // the stock rows exist: no first inserts of rows racing each other
            let setup = try (0..<keysPerRound).map { WriteRequest(commands: [try command("S\(node)\($0)", "P1", delta: 1)], actor: "t") }
            for result in await nodes[0].applyInOrder(setup) { _ = try result.get() }
        }
        func requests(_ node: String, round: Int) throws -> [WriteRequest] {
            try (0..<keysPerRound).map { i in
                WriteRequest(commands: [try command("S\(node)\(i)", "P1", delta: 1)], actor: node,
                             idempotency: IdempotencyClaim(scope: "kafka:t", key: "r\(round)-k\(i)", fingerprint: "\(node)\(i)"))
            }
        }
        var applied = 0
        for round in 0..<rounds {
            let (batchA, batchB) = (try requests("A", round: round), Array(try requests("B", round: round).reversed()))
            async let a = nodes[0].applyInOrder(batchA)
            async let b = nodes[1].applyInOrder(batchB)
            let (fromA, fromB) = (await a, Array(await b.reversed()))
            for (first, second) in zip(fromA, fromB) {
                let outcomes = [first, second]
                #expect(outcomes.count { (try? $0.get())?.replayed == false } == 1, "one node applies each key")
                #expect(outcomes.count { if case .failure(DomainError.idempotencyKeyReused) = $0 { true } else { false } } == 1,
                        "the other is refused as a reused key: \(outcomes)")
            }
            applied += fromA.count { (try? $0.get()) != nil } + fromB.count { (try? $0.get()) != nil }
        }
        #expect(applied == rounds * keysPerRound)
        let stores = nodes.map { $0 as! MySQLStockStore }
        #expect(stores.map { $0.writeRetries.count(.deadlock) } == [0, 0], "a batch ran again after a deadlock")
        #expect(stores.map { $0.writeRetries.count(.duplicateKey) }.reduce(0, +) > 0, "the two nodes' inserts never met: the test proved nothing")
        let ledger = try await nodes[0].movements(afterSequence: 0, limit: 1_000_000)
        #expect(ledger.count == 2 * keysPerRound + applied)
        // Every clock taken was committed with its rows or rolled back with them: no gap, no repeat.
        #expect(ledger.map(\.sequence) == Array(1...Int64(ledger.count)))
        for node in nodes { try await node.close() }
    }
}
