import BazaarCore
import BazaarDomain
@testable import BazaarMySQL
import Foundation
import MySQLClient
import Testing

/// Issue 15: a large group commit (a Kafka partition's batch of thousands of commands) sends its inserts in parts
/// as they are built (`PipelinedStatements`), the server inserting one part while the next is built; the rest goes
/// with the `COMMIT`. Nothing changes for what is committed, and a failure anywhere leaves nothing committed and
/// the connection usable.
@Suite(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
struct PipelinedCommitTests {
    static func connection(_ db: borrowing TestDatabase) throws -> MySQLConnection {
        var configuration = try MySQLConfiguration(url: db.url)
        configuration.multiStatements = true
        let connection = MySQLConnection(configuration: configuration)
        try connection.open()
        try connection.query("CREATE TABLE t (id INT PRIMARY KEY)")
        return connection
    }

    @Test func largePartsGoAheadAndTheRestIsLeftForTheCommit() throws {
        let db = TestDatabase(.mariadb)
        let connection = try Self.connection(db)
        defer { connection.close() }
        try connection.begin()
        let pipeline = PipelinedStatements(connection: connection, partBytes: 64)
        let statements = (1...9).map { "INSERT INTO t VALUES (\($0))" + String(repeating: " ", count: $0 * 5) }
        for statement in statements { try pipeline.write(statement) }
        let rest = try pipeline.finish()
        #expect(rest.count < statements.count && statements.suffix(rest.count) == rest[...], "parts went ahead, the rest is the tail")
        // Every part sent ahead was answered: the connection takes the commit at once.
        try connection.commitTransaction(after: rest)
        #expect(try connection.query("SELECT COUNT(*), SUM(id) FROM t")[0].int(1) == 45)

        // A small batch's statements all wait for the commit, as one round trip.
        try connection.begin()
        let small = PipelinedStatements(connection: connection)
        try small.write("INSERT INTO t VALUES (10)")
        #expect(try small.finish() == ["INSERT INTO t VALUES (10)"])
        try connection.commitTransaction(after: [])
        connection.rollback()
    }

    /// A part's failure is thrown at the next write (or at `finish`): nothing after it is sent, the transaction rolls
    /// back whole, and the connection answers its next statement.
    @Test(arguments: [false, true])
    func aFailedPartStopsTheBatchAndLeavesTheConnectionUsable(atFinish: Bool) throws {
        let db = TestDatabase(.mariadb)
        let connection = try Self.connection(db)
        defer { connection.close() }
        try connection.query("INSERT INTO t VALUES (2)")
        try connection.begin()
        let pipeline = PipelinedStatements(connection: connection, partBytes: 1)
        var caught: MySQLError?
        do {
            try pipeline.write("INSERT INTO t VALUES (1)")
            try pipeline.write("INSERT INTO t VALUES (2)")  // a duplicate: its part fails on the server
            if atFinish { _ = try pipeline.finish() } else { try pipeline.write("INSERT INTO t VALUES (3)") }
        } catch {
            caught = error as? MySQLError
            pipeline.abandon()
        }
        #expect(caught?.code == MySQLError.duplicateKey)
        connection.rollback()
        #expect(try connection.query("SELECT id FROM t ORDER BY id").map { try $0.int(0) } == [2])
    }

    /// A batch abandoned with a part in flight (its builder failed) leaves no answer unread on the connection.
    @Test func anAbandonedPipelineLeavesNoAnswerUnread() throws {
        let db = TestDatabase(.mariadb)
        let connection = try Self.connection(db)
        defer { connection.close() }
        try connection.begin()
        let pipeline = PipelinedStatements(connection: connection, partBytes: 1)
        try pipeline.write("INSERT INTO t VALUES (1)")
        pipeline.abandon()
        connection.rollback()
        #expect(connection.isOpen)
        #expect(try connection.query("SELECT COUNT(*) FROM t")[0].int(0) == 0)
    }

    /// Thousands of ordered writes in one group commit (what a Kafka partition's batch is): sent in parts, the ledger
    /// and the levels agree, each pair's versions follow the ledger's order, and the outbox holds every movement.
    @Test func aBatchOfThousandsInPartsKeepsEveryLevelTheSumOfItsLedger() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        let requests = try (0..<4000).map { i in
            WriteRequest(commands: [try BazaarAppTests.command("S\(i % 4)", "P\(i % 25)", delta: Int64(i % 5) + 1)], actor: "kafka",
                         idempotency: IdempotencyClaim(scope: "commands", key: "c\(i)", fingerprint: "f"))
        }
        let results = await store.applyInOrder(requests)
        let receipts = try results.map { try $0.get() }
        #expect(receipts.count == 4000)
        let connection = try OutboxRangeTests.rawConnection(db)
        defer { connection.close() }
        let mismatched = try connection.select("""
            SELECT l.store_id, l.product_id FROM stock_levels l
            WHERE l.quantity <> (SELECT SUM(delta) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
               OR l.version <> (SELECT COUNT(*) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
            """)
        #expect(mismatched.isEmpty)
        #expect(try connection.select("SELECT COUNT(*) FROM stock_levels")[0].int(0) == 100)
        let outOfOrder = try connection.select("""
            SELECT COUNT(*) FROM stock_movements a JOIN stock_movements b
              ON a.store_id = b.store_id AND a.product_id = b.product_id AND b.version = a.version + 1
            WHERE b.seq < a.seq OR b.quantity_before <> a.quantity_after
            """)
        #expect(try outOfOrder[0].int(0) == 0, "each pair's movements chain in ledger order")
        #expect(try connection.select("SELECT COUNT(*) FROM idempotency_keys")[0].int(0) == 4000)
        #expect(try await store.outboxDepth() == 4000)
        try await store.close()
    }
}
