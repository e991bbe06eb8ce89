import BazaarCore
import BazaarMySQL
import Foundation
import MySQLClient
import Testing

extension CommitCutTests {
    /// A large group commit (a Kafka partition's batch) sends its inserts ahead in parts (`PipelinedStatements`): a
    /// connection lost while a part is in flight, before the commit's round trip, leaves nothing committed, and the
    /// batch is run again unseen: every write applied once, every level the sum of its ledger.
    @Test func aConnectionLostWhileAPartIsInFlightIsRunAgainAndAppliesEachWriteOnce() async throws {
        // Cut after the first part of inserts went out, while its answer is awaited (no COMMIT sent yet). On MariaDB the
        // packet matched is the ledger statement's prepare (its rows go in bulk: the next test cuts those).
        let cuts = try await Self.batchOfThousandsCutOnce(actor: "kafka") { transaction, chunk in
            chunk.contains("INSERT INTO stock_movements") && !transaction.contains("COMMIT")
        }
        #expect(cuts == 1)
    }

    /// On MariaDB those inserts are bulk executions (`MySQLBulkRows`), each waiting for its answer: a connection lost
    /// while the ledger rows' first bulk execution is in flight (after the records' and the clock) leaves nothing
    /// committed either, and the batch run again applies every write once.
    @Test func aConnectionLostDuringABulkExecutionIsRunAgainAndAppliesEachWriteOnce() async throws {
        let before = StorageMetrics.rowsWrittenInBulk
        // Only the ledger rows carry the actor; their statement's text went in its own packet (the prepare).
        let cuts = try await Self.batchOfThousandsCutOnce(actor: "kafka-bulk-cut") { _, packet in
            packet.contains("kafka-bulk-cut") && !packet.contains("INSERT")
        }
        #expect(cuts == 1, "the ledger rows went as a bulk execution, and it was cut")
        #expect(StorageMetrics.rowsWrittenInBulk - before >= 8000, "the records and the ledger rows in bulk, on the run that committed")
    }

    /// 4,000 keyed writes in one group commit through a `CuttingProxy` armed with `rule`: every write answered (the
    /// batch run again, unseen), each once in the ledger and the records, every level the sum of its ledger. The
    /// number of connections cut.
    static func batchOfThousandsCutOnce(actor: String, rule: @escaping CuttingProxy.Rule) async throws -> Int {
        let db = TestDatabase(.mariadb)
        let (proxy, url) = try Self.throughProxy(db)
        let name = db.mysqlName!
        defer { proxy.stop() }
        let store = MySQLStockStore(options: MySQLStockStore.Options(primary: try MySQLConfiguration(url: url)))
        try await store.migrate()
        let requests = try (0..<4000).map { i in
            WriteRequest(commands: [try BazaarAppTests.command("S\(i % 4)", "P\(i % 25)", delta: Int64(i % 5) + 1)], actor: actor,
                         idempotency: IdempotencyClaim(scope: "commands", key: "c\(i)", fingerprint: "f"))
        }
        proxy.arm(rule)
        let results = await store.applyInOrder(requests)
        #expect(results.allSatisfy { (try? $0.get()) != nil }, "run again, unseen: \(results.compactMap { try? $0.get() }.count) of 4000")
        let connection = MySQLConnection(configuration: try MySQLConfiguration(url: Backend.primaryURL! + "/" + name))
        try connection.open()
        defer { connection.close() }
        #expect(try connection.select("SELECT COUNT(*) FROM stock_movements")[0].int(0) == 4000, "each write once")
        #expect(try connection.select("SELECT COUNT(*) FROM idempotency_keys")[0].int(0) == 4000)
        let mismatched = try connection.select("""
            SELECT l.store_id FROM stock_levels l
            WHERE l.quantity <> (SELECT SUM(delta) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
            """)
        #expect(mismatched.isEmpty, "every level the sum of its ledger")
        try await store.close()
        return proxy.cuts
    }
}
