import BazaarApp
import Foundation
import HummingbirdTesting
import MySQLClient
import Testing

/// Issue 11: list requests cannot exhaust the server's prepared-statement budget (`max_prepared_stmt_count`, shared by
/// every client of the server). Limits and filter values are bound, so the texts are few, and each connection keeps
/// a bounded cache that closes what it evicts.
@Suite("Prepared-statement budget", .enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
struct StatementBudgetTests {
    static func preparedStatements(_ url: String) throws -> Int64 {
        let connection = MySQLConnection(configuration: try MySQLConfiguration(url: url))
        try connection.open()
        defer { connection.close() }
        return try connection.query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").first.map { Int64(try $0.string(1)) ?? 0 } ?? 0
    }

    @Test func thousandsOfDistinctListRequestsLeaveThePreparedStatementCountBounded() async throws {
        let db = TestDatabase(.mariadb)
        let servers = [Backend.primaryURL!] + (Backend.replicaURL.map { [$0] } ?? [])
        let before = try servers.map(Self.preparedStatements)
        try await Harness.withApp(db.url) { _, client in
            for limit in 1...1000 {
                for path in ["/audit-logs?store_id=S1&limit=\(limit)", "/audit-logs?actor=x&reason=sale&limit=\(limit)",
                             "/v1/alerts?store_id=S1&limit=\(limit)", "/v1/changes?limit=\(limit)"] {
                    let reply = try await client.call(.get, path, sendingConsistencyToken: false)
                    #expect(reply.status == 200, "\(path): \(reply.body)")
                }
            }
        }
        let after = try servers.map(Self.preparedStatements)
        for (server, (b, a)) in zip(servers, zip(before, after)) {
            // Before: one statement per distinct limit and filter set, per connection (thousands).
            #expect(a - b < 300, "\(server.split(separator: "@").last ?? ""): \(a - b) more prepared statements")
        }
    }

    @Test func aConnectionClosesTheStatementsItEvicts() throws {
        var configuration = try MySQLConfiguration(url: Backend.primaryURL!)
        configuration.statementCacheSize = 16
        let connection = MySQLConnection(configuration: configuration)
        try connection.open()
        defer { connection.close() }
        for i in 0..<200 { _ = try connection.select("SELECT ? + \(i)", [1]) }
        #expect(connection.preparedStatementCount == 16)
        // This session's own counters: 200 prepared, 184 closed on the server (the 16 cached are still open).
        let status = Dictionary(uniqueKeysWithValues: try connection.query("SHOW SESSION STATUS LIKE 'Com_stmt_%'").map { (try $0.string(0), Int(try $0.string(1)) ?? 0) })
        #expect(status["Com_stmt_prepare"] == 200)
        #expect(status["Com_stmt_close"] == 184)
    }
}
