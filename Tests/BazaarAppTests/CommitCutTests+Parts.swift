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
        let db = TestDatabase(.mariadb)
        let (proxy, url) = try Self.throughProxy(db)
        let name = db.mysqlName!
        defer { proxy.stop() }
        let store = MySQLStockStore(options: MySQLStockStore.Options(primary: try MySQLConfiguration(url: url)))
        try await store.migrate()
        let requests = try (0..<4000).map { i in
            WriteRequest(commands: [try BazaarAppTests.command("S\(i % 4)", "P\(i % 25)", delta: Int64(i % 5) + 1)], actor: "kafka",
                         idempotency: IdempotencyClaim(scope: "commands", key: "c\(i)", fingerprint: "f"))
        }
        // Cut after the first part of inserts went out, while its answer is awaited (no COMMIT sent yet).
        proxy.arm { transaction, chunk in
            chunk.contains("INSERT INTO stock_movements") && !transaction.contains("COMMIT")
        }
        let results = await store.applyInOrder(requests)
        #expect(proxy.cuts == 1)
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
        #expect(mismatched.isEmpty)
        try await store.close()
    }
}
