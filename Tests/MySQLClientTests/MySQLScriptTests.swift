import Foundation
import MySQLClient
import Testing

/// `beginTransaction(with:)` and `commitTransaction(after:)`: several statements in one round trip
/// (`multiStatements`), or one by one without it, with the same outcome either way.
@Suite(.enabled(if: TestServer.available, "needs BAZAAR_TEST_MYSQL_URL (scripts/services/mariadb.sh)"))
struct MySQLScriptTests {
    /// A connection pool of one on a fresh database with tables `t` (InnoDB) and `side` (Aria: not transactional, so a
    /// row it holds shows that its statement ran, even after a rollback).
    static func pool(multiStatements: Bool) async throws -> MySQLConnectionPool {
        let (setup, name) = try TestServer.pool(size: 1)
        try await setup.withConnection { connection in
            try connection.query("CREATE TABLE t (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB")
            try connection.query("CREATE TABLE side (id INT PRIMARY KEY) ENGINE=Aria TRANSACTIONAL=0")
        }
        await setup.close()
        var configuration = try MySQLConfiguration(url: TestServer.primaryURL!)
        configuration.database = name
        configuration.multiStatements = multiStatements
        return MySQLConnectionPool(configuration: configuration, size: 1)
    }

    @Test(arguments: [true, false])
    func eachStatementAnswersItsOwnRowsAndTheCommitItsGTID(multiStatements: Bool) async throws {
        let pool = try await Self.pool(multiStatements: multiStatements)
        let (results, gtidChanged, count) = try await pool.withConnection { connection in
            try connection.query("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
            let before = connection.lastGTID
            let results = try connection.beginTransaction(with: [
                "SELECT id FROM t ORDER BY id FOR UPDATE", "SELECT note FROM t WHERE id = 2", "SELECT id FROM t WHERE id = 9",
            ])
            #expect(connection.inTransaction)
            try connection.commitTransaction(after: ["INSERT INTO t VALUES (3, 'c')", "UPDATE t SET note = 'B' WHERE id = 2"])
            #expect(!connection.inTransaction)
            // The commit's own GTID, from the last answer of the round trip (read-your-writes tokens carry it).
            if connection.isMariaDB { #expect(connection.lastGTID == (try connection.query("SELECT @@last_gtid")[0].string(0))) }
            return (results, connection.lastGTID != before, try connection.query("SELECT COUNT(*), MAX(note) FROM t")[0])
        }
        #expect(try results.map { try $0.map { try $0.string(0) } } == [["1", "2"], ["b"], []])
        #expect(gtidChanged, "the commit's GTID is read from the last answer")
        #expect(try count.int(0) == 3 && count.string(1) == "c")
        await pool.close()
    }

    @Test(arguments: [true, false])
    func aFailedStatementStopsTheRestAndLeavesTheTransactionToRollBack(multiStatements: Bool) async throws {
        let pool = try await Self.pool(multiStatements: multiStatements)
        let (error, stillOpen, rows, side) = try await pool.withConnection { connection in
            try connection.query("INSERT INTO t VALUES (1, 'a')")
            _ = try connection.beginTransaction(with: ["SELECT id FROM t FOR UPDATE"])
            var caught: MySQLError?
            do {
                try connection.commitTransaction(after: [
                    "INSERT INTO t VALUES (2, 'b')", "INSERT INTO t VALUES (1, 'again')", "INSERT INTO side VALUES (7)",
                ])
            } catch {
                caught = error as? MySQLError
            }
            let stillOpen = connection.inTransaction
            connection.rollback()
            // The connection goes on: its next statement is answered.
            return (caught, stillOpen, try connection.query("SELECT id FROM t ORDER BY id"), try connection.query("SELECT COUNT(*) FROM side")[0])
        }
        #expect(error?.code == MySQLError.duplicateKey)
        #expect(stillOpen)
        #expect(try rows.map { try $0.int(0) } == [1], "the insert before the failure was rolled back, the commit never ran")
        #expect(try side.int(0) == 0, "no statement after the failed one ran")
        await pool.close()
    }

    /// Values are escaped literals: a `;`, quotes or a comment inside one cannot end its statement.
    @Test func aValueCannotEndItsStatement() async throws {
        let pool = try await Self.pool(multiStatements: true)
        let hostile = "x'); INSERT INTO side VALUES (1); -- \\'; DROP TABLE t; /* \"; */"
        let stored = try await pool.withConnection { connection in
            _ = try connection.beginTransaction(with: [])
            try connection.commitTransaction(after: ["INSERT INTO t VALUES (1, \(try connection.literal(.text(hostile))))"])
            return (try connection.query("SELECT note FROM t")[0].string(0), try connection.query("SELECT COUNT(*) FROM side")[0].int(0))
        }
        #expect(stored.0 == hostile)
        #expect(stored.1 == 0)
        await pool.close()
    }

    /// `sendScript` returns before the answer; `readSentScript` reads it, each statement's rows in order. A failed
    /// statement is thrown when the answer is read, and the connection goes on.
    @Test func aSentScriptIsAnsweredWhenReadAndItsFailureLeavesTheConnectionUsable() async throws {
        let pool = try await Self.pool(multiStatements: true)
        let (answers, error, rows) = try await pool.withConnection { connection in
            _ = try connection.beginTransaction(with: [])
            try connection.sendScript(["INSERT INTO t VALUES (1, 'a'), (2, 'b')", "SELECT id FROM t ORDER BY id"])
            // Escaping needs no round trip: the next statement is built while the server runs the last.
            let next = "INSERT INTO t VALUES (1, \(try connection.literal(.text("it's"))))"
            let answers = try connection.readSentScript()
            try connection.sendScript([next, "INSERT INTO side VALUES (1)"])
            var caught: MySQLError?
            do { _ = try connection.readSentScript() } catch { caught = error as? MySQLError }
            connection.rollback()
            return (answers, caught, try connection.query("SELECT (SELECT COUNT(*) FROM t), (SELECT COUNT(*) FROM side)")[0])
        }
        #expect(try answers.map { try $0.map { try $0.int(0) } } == [[], [1, 2]])
        #expect(error?.code == MySQLError.duplicateKey)
        #expect(try rows.int(0) == 0 && rows.int(1) == 0, "rolled back, and nothing after the failed statement ran")
        await pool.close()
    }

    @Test func scriptsAreCutUnderTheirByteBoundInOrder() {
        let statements = (0..<10).map { String(repeating: "x", count: 100 * ($0 % 3 + 1)) }
        let parts = MySQLConnection.scriptParts(statements, maxBytes: 450)
        #expect(parts.flatMap { $0 } == statements)
        #expect(parts.allSatisfy { $0.count == 1 || $0.reduce(0) { $0 + $1.utf8.count + 2 } <= 450 })
        #expect(MySQLConnection.scriptParts([String(repeating: "y", count: 1000)], maxBytes: 10).count == 1, "a longer statement goes alone")
        #expect(MySQLConnection.scriptParts([], maxBytes: 10).isEmpty)
    }

    /// A script longer than the server's `max_allowed_packet` (16 MiB on the test servers; one packet that long is
    /// refused and the connection dropped) is sent in parts and answers every statement.
    @Test func aScriptLongerThanAPacketIsSentInParts() async throws {
        let pool = try await Self.pool(multiStatements: true)
        let (lengths, packet) = try await pool.withConnection { connection in
            let packet = try connection.query("SELECT @@max_allowed_packet")[0].int(0)
            let value = String(repeating: "v", count: 100_000)
            let count = Int(packet) / value.utf8.count + 20
            let results = try connection.beginTransaction(with: (0..<count).map { "SELECT LENGTH('\(value)'), \($0)" })
            connection.rollback()
            return (try results.map { try [$0[0].int(0), $0[0].int(1)] }, packet)
        }
        #expect(lengths.count == Int(packet) / 100_000 + 20)
        #expect(lengths.enumerated().allSatisfy { $0.element == [100_000, Int64($0.offset)] })
        await pool.close()
    }
}
