import Foundation
import MySQLClient
import Testing
#if canImport(Glibc)
import Glibc
#endif
import TestShell

/// The client against a real MariaDB (started by scripts/services/mariadb.sh; URLs in the environment).
enum TestServer {
    static let primaryURL = ProcessInfo.processInfo.environment["BAZAAR_TEST_MYSQL_URL"]
    static let replicaURL = ProcessInfo.processInfo.environment["BAZAAR_TEST_MYSQL_REPLICA_URL"]
    /// The replica's quiet pass of scripts/test.sh: tests that wait for the replica run there, alone (under the
    /// parallel passes' writes it trailed past their waits in CI).
    static var replicaQuiet: Bool { replicaURL != nil && ProcessInfo.processInfo.environment["BAZAAR_TEST_REPLICA_QUIET"] == "1" }
    static var available: Bool { primaryURL != nil }
    /// The CA of the test servers' TLS certificate.
    static let tlsCA = ProcessInfo.processInfo.environment["BAZAAR_TEST_MARIADB_TLS_CA"]

    /// A pool on a fresh database of its own.
    static func pool(size: Int = 4) throws -> (MySQLConnectionPool, String) {
        let name = "client_test_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = MySQLConnection(configuration: try MySQLConfiguration(url: primaryURL!))
        try admin.open()
        try admin.query("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        admin.close()
        var configuration = try MySQLConfiguration(url: primaryURL!)
        configuration.database = name
        return (MySQLConnectionPool(configuration: configuration, size: size), name)
    }
}

@Suite(.enabled(if: TestServer.available, "needs BAZAAR_TEST_MYSQL_URL (scripts/services/mariadb.sh)"))
struct MySQLClientTests {
    @Test func configurationFromURL() throws {
        let configuration = try MySQLConfiguration(url: "mysql://app:p%40ss@db.example:3307/stock?read_timeout=3&tls=required")
        #expect(configuration.user == "app")
        #expect(configuration.password == "p@ss")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 3307)
        #expect(configuration.database == "stock")
        #expect(configuration.readTimeoutSeconds == 3)
        #expect(configuration.tls == .required)
        #expect(configuration.redacted == "mysql://app:***@db.example:3307/stock")
        #expect(throws: MySQLError.self) { try MySQLConfiguration(url: "mysql://h:99999/x") }
        #expect(throws: MySQLError.self) { try MySQLConfiguration(url: "mysql://h/x?colour=blue") }
    }

    @Test func valuesRoundTripThroughBothProtocols() async throws {
        let (pool, _) = try TestServer.pool()
        let rows = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE t (id BIGINT PRIMARY KEY AUTO_INCREMENT, n BIGINT, d DOUBLE, s VARCHAR(100), u BIGINT UNSIGNED)")
            let insert = try connection.execute("INSERT INTO t (n, d, s, u) VALUES (?, ?, ?, ?)", [Int64.min, 2.5, "naïve 🛒 'quoted'", 7])
            #expect(insert.affectedRows == 1)
            #expect(insert.lastInsertID == 1)
            try connection.execute("INSERT INTO t (n, d, s, u) VALUES (?, ?, ?, ?)", [MySQLValue.null, MySQLValue.null, String?.none, 0])
            let binary = try connection.select("SELECT id, n, d, s, u FROM t ORDER BY id")
            let text = try connection.query("SELECT id, n, d, s, u FROM t ORDER BY id")
            return (binary, text)
        }
        for set in [rows.0, rows.1] {
            #expect(set.count == 2)
            #expect(try set[0].int(1) == Int64.min)
            #expect(try set[0].double(2) == 2.5)
            #expect(try set[0].string(3) == "naïve 🛒 'quoted'")
            #expect(try set[0].int(4) == 7)
            #expect(try set[1].optionalInt(1) == nil)
            #expect(set[1].optionalString(3) == nil)
        }
        await pool.close()
    }

    /// `literal` puts text into statements built as text (the multi-row inserts of a group commit): whatever the text
    /// holds, the server must store exactly it, and nothing of it may end the literal early.
    @Test func textLiteralsStoreExactlyTheirTextWhateverItHolds() async throws {
        let (pool, _) = try TestServer.pool()
        let hostile = ["", "'", "\\", "\\'", "''", "a'); DROP TABLE l; --", "\u{0}", "nul\u{0}in the middle", "\n\r\t\u{1A}\u{8}",
                       "naïve 🛒 \u{2028} e\u{301}", String(repeating: "'\\", count: 5000), String((1...127).map { Character(Unicode.Scalar(UInt8($0))) })]
        let stored = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE l (id INT PRIMARY KEY, s LONGTEXT)")
            let values = try hostile.enumerated().map { "(\($0.offset), \(try connection.literal(.text($0.element))))" }
            try connection.query("INSERT INTO l (id, s) VALUES " + values.joined(separator: ", "))
            return try connection.query("SELECT s FROM l ORDER BY id").map { try $0.string(0) }
        }
        #expect(stored == hostile)
        await pool.close()
    }

    /// `SQLValueRows` writes each value as `literal` does (text with nothing to escape as it is, anything else
    /// escaped), so the same hostile texts come back exactly, with the numbers and NULLs beside them.
    @Test func valueRowsStoreExactlyTheirValuesWhateverTheyHold() async throws {
        let (pool, _) = try TestServer.pool()
        let texts = ["", "'", "\\", "\\'", "''", "\"", "a'); DROP TABLE v; --", "\u{0}", "nul\u{0}in the middle", "\n\r\t\u{1A}\u{8}",
                     "naïve 🛒 \u{2028} e\u{301}", "plain-id_42", String(repeating: "'\\", count: 5000),
                     String((1...127).map { Character(Unicode.Scalar(UInt8($0))) })]
        let values: [(MySQLValue, MySQLValue)] = texts.enumerated().map { (.text($0.element), $0.offset % 3 == 0 ? .null : .int(Int64($0.offset) - 7)) }
        let (stored, sameText) = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE v (id INT PRIMARY KEY, s LONGTEXT, n BIGINT, d DOUBLE)")
            var rows = SQLValueRows(connection: connection)
            for (index, (text, number)) in values.enumerated() { try rows.append(.int(Int64(index)), text, number, .double(Double(index) / 4)) }
            // The same list through `literal`, value by value: the very same SQL.
            let literals = try values.enumerated().map { index, pair in
                "(" + (try [.int(Int64(index)), pair.0, pair.1, .double(Double(index) / 4)].map(connection.literal).joined(separator: ",")) + ")"
            }.joined(separator: ",")
            try connection.query("INSERT INTO v (id, s, n, d) VALUES " + rows.text)
            let stored = try connection.query("SELECT s, n, d FROM v ORDER BY id").map { [MySQLValue.text(try $0.string(0)), $0[1], $0[2]] }
            return (stored, rows.text == literals && rows.count == texts.count)
        }
        #expect(stored.map { $0[0] } == texts.map(MySQLValue.text))
        #expect(sameText)
        #expect(stored.map { $0[1] == .null } == values.map { $0.1 == .null })
        await pool.close()
    }

    @Test func serverErrorsAreTypedWithTheirCodes() async throws {
        let (pool, _) = try TestServer.pool()
        let error = await #expect(throws: MySQLError.self) {
            try await pool.withConnection { connection in
                try connection.query("CREATE TABLE k (id INT PRIMARY KEY)")
                try connection.execute("INSERT INTO k VALUES (?)", [1])
                try connection.execute("INSERT INTO k VALUES (?)", [1])
            }
        }
        #expect(error?.code == MySQLError.duplicateKey)
        #expect(error?.sqlState == "23000")
        let syntax = await #expect(throws: MySQLError.self) {
            try await pool.withConnection { try $0.execute("SELEKT 1") }
        }
        #expect(syntax?.code == 1064)
        await pool.close()
    }

    /// `run` reports the rows its text statements changed (it read -1, the value the final `mysql_next_result`
    /// leaves, and an INSERT IGNORE that counted its rows trapped converting it).
    @Test func runReportsTheRowsItsStatementsChanged() async throws {
        let (pool, _) = try TestServer.pool()
        let counts = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE c (id INT PRIMARY KEY)")
            return [try connection.run("INSERT IGNORE INTO c VALUES (1), (2)").affectedRows,
                    try connection.run("INSERT IGNORE INTO c VALUES (2), (3)").affectedRows,
                    try connection.run("UPDATE c SET id = id + 10 WHERE id > 1").affectedRows,
                    try connection.run("SELECT * FROM c").affectedRows]
        }
        #expect(counts == [2, 1, 2, 0])
        await pool.close()
    }

    @Test func transactionRollsBackOnThrow() async throws {
        let (pool, _) = try TestServer.pool()
        struct Refused: Error {}
        let count = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE r (id INT PRIMARY KEY) ENGINE=InnoDB")
            _ = try? connection.transaction { tx in
                try tx.execute("INSERT INTO r VALUES (?)", [1])
                throw Refused()
            }
            try connection.transaction { tx in try tx.execute("INSERT INTO r VALUES (?)", [2]) }
            return try connection.select("SELECT COUNT(*), MIN(id) FROM r")[0]
        }
        #expect(try count.int(0) == 1)
        #expect(try count.int(1) == 2)
        await pool.close()
    }

    @Test func commitReportsItsGTIDAndTheReplicaCanWaitForIt() async throws {
        let (pool, name) = try TestServer.pool()
        let gtid = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE g (id INT PRIMARY KEY)")
            let before = connection.lastGTID
            try connection.transaction { try $0.execute("INSERT INTO g VALUES (?)", [1]) }
            #expect(connection.lastGTID != nil && connection.lastGTID != before)
            // Other tests write too: the binlog position is at or after this commit, in the same domain.
            let current = try connection.query("SELECT @@gtid_binlog_pos")[0].string(0)
            let mine = connection.lastGTID!.split(separator: "-"), now = current.split(separator: "-")
            #expect(mine[0] == now[0] && Int(mine[2])! <= Int(now[2])!)
            return connection.lastGTID!
        }
        #expect(!gtid.isEmpty)
        await pool.close()
    }

    /// The replica waits for a commit's GTID, then shows its rows. In the replica's quiet pass (`replicaQuiet`): in
    /// the parallel pass the replica once trailed past the 120 s wait (CI).
    @Test(.enabled(if: TestServer.replicaQuiet, "needs the MariaDB test replica current: run in the quiet pass"))
    func theReplicaCanWaitForACommitsGTID() async throws {
        let (pool, name) = try TestServer.pool()
        let gtid = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE g (id INT PRIMARY KEY)")
            try connection.transaction { try $0.execute("INSERT INTO g VALUES (?)", [1]) }
            return try #require(connection.lastGTID)
        }
        if let replicaURL = TestServer.replicaURL {
            var configuration = try MySQLConfiguration(url: replicaURL)
            configuration.database = nil
            let replica = MySQLConnectionPool(configuration: configuration, size: 1)
            // Two statements: a statement opens its tables before it runs, so a table created by the awaited
            // transaction cannot be read in the statement that waits for it.
            let (waited, count) = try await replica.withConnection { connection in
                let waited = try connection.select("SELECT MASTER_GTID_WAIT(?, 120)", [gtid])[0].int(0)  // a loaded replica has trailed 25 s
                let count = try connection.select("SELECT COUNT(*) FROM \(name).g")[0].int(0)
                return (waited, count)
            }
            #expect(waited == 0)
            #expect(count == 1)
            await replica.close()
        }
        await pool.close()
    }

    @Test(.enabled(if: TestServer.tlsCA != nil, "needs BAZAAR_TEST_MARIADB_TLS_CA"))
    func tlsEncryptsAndVerifiesTheServerAgainstItsCA() throws {
        func cipher(_ query: String) throws -> String {
            let connection = MySQLConnection(configuration: try MySQLConfiguration(url: TestServer.primaryURL! + query))
            try connection.open()
            defer { connection.close() }
            return try connection.select("SHOW SESSION STATUS LIKE 'Ssl_cipher'")[0].string(1)
        }
        #expect(try cipher("").isEmpty, "plain by default")
        #expect(try !cipher("?tls=required").isEmpty, "encrypted")
        #expect(try !cipher("?tls=verify&tls_ca=\(TestServer.tlsCA!)").isEmpty, "encrypted, certificate and host verified")
        // A certificate authority that did not sign the server's certificate: refused before any query.
        let otherCA = FileManager.default.temporaryDirectory.appendingPathComponent("other-ca-\(UUID().uuidString.prefix(8)).pem").path
        let made = Shell.run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=other' -keyout /dev/null -out \(otherCA) >/dev/null 2>&1")
        try #require(made == 0)
        defer { try? FileManager.default.removeItem(atPath: otherCA) }
        #expect(throws: MySQLError.self) { try cipher("?tls=verify&tls_ca=\(otherCA)") }
    }

    /// A pooled connection the server closed while it sat idle (a restart does it to every one of them; here a
    /// `KILL`) is reopened before its next use, which then succeeds, its statements prepared again: nothing of that
    /// use had reached a server, so no caller should have to judge whether to retry it. Seen to fail without the
    /// check: the use failed with a lost connection (2013).
    @Test func aConnectionTheServerClosedWhileIdleIsReopenedBeforeItsNextUse() async throws {
        let (pool, _) = try TestServer.pool(size: 1)
        let id = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE c (id INT PRIMARY KEY)")
            try connection.execute("INSERT INTO c VALUES (?)", [1])
            return try connection.select("SELECT CONNECTION_ID()")[0].int(0)
        }
        try await Self.kill(id)
        let (count, reopened) = try await pool.withConnection { connection in
            (try connection.execute("SELECT COUNT(*) FROM c WHERE id >= ?", [0]).rows[0].int(0),
             try connection.select("SELECT CONNECTION_ID()")[0].int(0) != id)
        }
        #expect(count == 1 && reopened)
        await pool.close()
    }

    /// Over TLS an idle connection is kept from use to use (a TLS record still unread shows as data, not as a
    /// hang-up), and one the server closed is reopened as a plain one is, over TLS again.
    @Test(.enabled(if: TestServer.tlsCA != nil, "needs BAZAAR_TEST_MARIADB_TLS_CA"))
    func aTLSConnectionIsKeptWhileIdleAndReopenedOnceTheServerClosedIt() async throws {
        var configuration = try MySQLConfiguration(url: TestServer.primaryURL! + "?tls=required")
        configuration.database = nil
        let pool = MySQLConnectionPool(configuration: configuration, size: 1)
        var sessions = Set<Int64>()
        for _ in 0..<5 {
            sessions.insert(try await pool.withConnection { connection in
                _ = try connection.execute("SELECT ? + 1", [1])  // a prepared statement: closing sends its COM_STMT_CLOSE
                return try connection.select("SELECT CONNECTION_ID()")[0].int(0)
            })
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(sessions.count == 1)
        try await Self.kill(try #require(sessions.first))
        let after = try await pool.withConnection { connection in
            (try connection.select("SELECT CONNECTION_ID()")[0].int(0), try connection.select("SHOW SESSION STATUS LIKE 'Ssl_cipher'")[0].string(1))
        }
        #expect(after.0 != sessions.first && !after.1.isEmpty, "a new session, over TLS again")
        await pool.close()
    }

    /// A connection lost while its statement runs fails that statement: the caller decides whether the work is safe
    /// to repeat. The next use reopens it.
    @Test func aConnectionLostDuringAStatementFailsItAndIsReopenedOnItsNextUse() async throws {
        let (pool, _) = try TestServer.pool(size: 1)
        let id = try await pool.withConnection { try $0.select("SELECT CONNECTION_ID()")[0].int(0) }
        async let killed: Void = {
            try await Task.sleep(for: .milliseconds(300))
            try await Self.kill(id)
        }()
        let lost = await #expect(throws: MySQLError.self) {
            try await pool.withConnection { try $0.query("SELECT SLEEP(20)") }
        }
        try await killed
        #expect(lost?.isConnectionLost == true, "\(String(describing: lost))")
        #expect(try await pool.withConnection { try $0.select("SELECT 1")[0].int(0) } == 1)
        await pool.close()
    }

    /// Ends session `id` on the primary and waits until its thread is gone (it has closed its socket by then).
    static func kill(_ id: Int64) async throws {
        let killer = MySQLConnection(configuration: try MySQLConfiguration(url: TestServer.primaryURL!))
        try killer.open()
        defer { killer.close() }
        try killer.query("KILL \(id)")
        for _ in 0..<200 {
            if try killer.select("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", [id])[0].int(0) == 0 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("session \(id) still there 2 s after KILL")
    }

    @Test func concurrentTransactionsOnThePoolLoseNoUpdate() async throws {
        let (pool, _) = try TestServer.pool(size: 8)
        try await pool.withConnection { connection in
            try connection.query("CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT NOT NULL)")
            try connection.execute("INSERT INTO counter VALUES (1, 0)")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    try await pool.withConnection { connection in
                        try connection.transaction { tx in
                            let n = try tx.select("SELECT n FROM counter WHERE id = 1 FOR UPDATE")[0].int(0)
                            try tx.execute("UPDATE counter SET n = ? WHERE id = 1", [n + 1])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = try await pool.withConnection { try $0.select("SELECT n FROM counter")[0].int(0) }
        #expect(total == 200)
        await pool.close()
    }
}
