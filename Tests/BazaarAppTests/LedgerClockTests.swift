import BazaarCore
import BazaarDomain
@testable import BazaarMySQL
import Foundation
import MySQLClient
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
            let request = WriteRequest(commands: [try command(index == 0 ? "S2" : "S1", "P1", delta: 1)], actor: "t", idempotency: claim)
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

    /// Two nodes apply the same keyed batches (a topic's commands delivered to both during a rebalance, requests
    /// retried on another node) in opposite orders at once, while unkeyed writes hit the same pairs: every request is
    /// answered, each key is applied once (the other node replays it), every level is the sum of its ledger, and
    /// the sequences stay in commit order for a reader paging by them.
    @Test func twoNodesApplyingTheSameKeysInOppositeOrdersApplyEachOnce() async throws {
        let db = TestDatabase(.mariadb)
        let nodeA = try await Stores.open(db, concurrentFlushes: 2), nodeB = try await Stores.open(db, concurrentFlushes: 2)
        let rounds = 12, keysPerRound = 40
        func requests(round: Int) throws -> [WriteRequest] {
            try (0..<keysPerRound).map { i in
                WriteRequest(commands: [try command("S\(i % 4)", "P\(i % 5)", delta: 1)], actor: "kafka",
                             idempotency: IdempotencyClaim(scope: "kafka:t", key: "r\(round)-k\(i)", fingerprint: "f\(i)"))
            }
        }
        var unkeyed = 0
        for round in 0..<rounds {
            let batch = try requests(round: round)
            async let a = nodeA.applyInOrder(batch)
            async let b = nodeB.applyInOrder(batch.reversed())
            async let noise: Int = withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        let node = writer % 2 == 0 ? nodeA : nodeB
                        _ = try await node.apply(WriteRequest(commands: [try command("S\(writer % 4)", "P\(writer % 5)", delta: 1)], actor: "http"))
                    }
                }
                try await group.waitForAll()
                return 8
            }
            let (fromA, fromB) = (try await a.map { try $0.get() }, try await b.map { try $0.get() }.reversed())
            unkeyed += try await noise
            for (first, second) in zip(fromA, fromB) {
                #expect(first.movements.map(\.movementID) == second.movements.map(\.movementID), "a key applied twice")
                #expect(first.replayed != second.replayed, "one node applied the key, the other replayed it")
            }
        }
        let ledger = try await nodeA.movements(afterSequence: 0, limit: 1_000_000)
        #expect(ledger.count == rounds * keysPerRound + unkeyed)
        // Every clock taken was committed with its rows or rolled back with them: no gap, no repeat.
        #expect(ledger.map(\.sequence) == Array(1...Int64(ledger.count)))
        for s in 0..<4 {
            for p in 0..<5 {
                let level = try await nodeA.level(storeID: "S\(s)", productID: "P\(p)")
                let totals = try await nodeA.ledgerTotals(storeID: "S\(s)", productID: "P\(p)")
                #expect((level?.quantity ?? 0) == totals.sum && (level?.version ?? 0) == totals.rows, "S\(s)/P\(p)")
            }
        }
        try await nodeA.close()
        try await nodeB.close()
    }
}
