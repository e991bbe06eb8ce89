import Foundation
@testable import MySQLClient
import Testing

/// Issue 15: bulk executions (MariaDB's array binding) store exactly what a multi-row text statement of escaped
/// literals stores, whatever the values; a failing row fails the execution; and a connection told not to, or a
/// server that cannot, never takes them.
@Suite(.enabled(if: TestServer.available, "needs BAZAAR_TEST_MYSQL_URL (scripts/services/mariadb.sh)"))
struct MySQLBulkExecutionTests {
    static let table = "(k BIGINT PRIMARY KEY, a VARCHAR(1000) NOT NULL, b VARCHAR(100) NULL, n BIGINT NULL)"
    static let insert = "INSERT INTO bulk (k, a, b, n) VALUES (?, ?, ?, ?)"

    /// Text of any Unicode scalar (NUL, quotes, backslashes, Ctrl-Z, marks, every plane), often the bytes the text
    /// protocol escapes, sometimes empty or long.
    static func hostileText<G: RandomNumberGenerator>(maxLength: Int, using random: inout G) -> String {
        let specials: [Unicode.Scalar] = ["\0", "'", "\"", "\\", "\n", "\r", "\u{1A}", "%", "_", "\u{301}", "\u{FEFF}", "\u{10FFFF}", "🛒"]
        var text = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxLength, using: &random) {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: text.append(specials.randomElement(using: &random)!)
            case 1: text.append(Unicode.Scalar(UInt8.random(in: 0...127, using: &random)))
            default:
                let value = UInt32.random(in: 0x80...0x10FFFF, using: &random)
                text.append(Unicode.Scalar(value) ?? "\u{FFFD}")  // surrogates are no scalars
            }
        }
        return String(text)
    }

    @Test func bulkRowsAreStoredAsTheTextPathStoresThem() async throws {
        let (pool, _) = try TestServer.pool()
        var random = SystemRandomNumberGenerator()
        let integers: [Int64] = [.min, .max, 0, -1]
        var generated: [[MySQLValue]] = []
        for k in 0..<3000 {
            let a = MySQLValue.text(Self.hostileText(maxLength: k % 50 == 0 ? 1000 : 30, using: &random))
            let b: MySQLValue = Bool.random(using: &random) ? .null : .text(Self.hostileText(maxLength: 25, using: &random))
            let number = k % 5 == 4 ? Int64.random(in: .min ... .max, using: &random) : integers[k % 5]
            generated.append([.int(Int64(k)), a, b, k % 7 == 0 ? .null : .int(number)])
        }
        let values = generated
        let (bulk, text) = try await pool.withConnection { connection in
            try connection.query("CREATE TABLE bulk \(Self.table)")
            try connection.query("CREATE TABLE text_rows \(Self.table)")
            #expect(connection.supportsBulkExecution, "MariaDB takes bulk executions")
            var rows = MySQLBulkRows(columns: [.int, .text, .text, .int])
            var literals = SQLValueRows(connection: connection)
            for row in values {
                try rows.append(row[0], row[1], row[2], row[3])
                try literals.append(row[0], row[1], row[2], row[3])
            }
            #expect(try connection.executeBulk(Self.insert, rows).affectedRows == 3000)
            try connection.run("INSERT INTO text_rows (k, a, b, n) VALUES \(literals.text)")
            return (try connection.select("SELECT k, a, b, n FROM bulk ORDER BY k"), try connection.select("SELECT k, a, b, n FROM text_rows ORDER BY k"))
        }
        #expect(bulk.count == 3000)
        #expect(bulk == text, "bulk and text rows differ")
        #expect(bulk.map(\.values) == values, "the rows read back are the rows written")
        try await pool.close()
    }

    /// A row that breaks a key fails the execution; the transaction rolls back whole.
    @Test func aFailingRowFailsTheExecution() async throws {
        let (pool, _) = try TestServer.pool()
        try await pool.withConnection { connection in
            try connection.query("CREATE TABLE bulk \(Self.table)")
            var rows = MySQLBulkRows(columns: [.int, .text, .text, .int])
            for k in 0..<1000 { try rows.append(.int(Int64(k == 700 ? 3 : k)), .text("a"), .null, .null) }
            try connection.begin()
            var caught: MySQLError?
            do { try connection.executeBulk(Self.insert, rows) } catch { caught = error as? MySQLError }
            #expect(caught?.code == MySQLError.duplicateKey)
            connection.rollback()
            #expect(try connection.query("SELECT COUNT(*) FROM bulk")[0].int(0) == 0)
            // The connection goes on: the same statement runs again with good rows.
            var good = MySQLBulkRows(columns: [.int, .text, .text, .int])
            try good.append(.int(1), .text("x"), .text("y"), .int(2))
            #expect(try connection.executeBulk(Self.insert, good).affectedRows == 1)
            // The cached statement runs as a single execution again (the array size was reset).
            #expect(try connection.execute(Self.insert, [MySQLValue.int(2), .text("z"), .null, .int(3)]).affectedRows == 1)
            #expect(try connection.query("SELECT COUNT(*) FROM bulk")[0].int(0) == 2)
        }
        try await pool.close()
    }

    @Test func rowsOfTheWrongShapeAreRefusedBeforeAnythingIsSent() throws {
        var rows = MySQLBulkRows(columns: [.int, .text])
        #expect(throws: MySQLError.self) { try rows.append(.text("1"), .text("a")) }
        #expect(throws: MySQLError.self) { try rows.append(.int(1)) }
        #expect(throws: MySQLError.self) { try rows.append(.int(1), .double(2)) }
        try rows.append(.null, .null)
        #expect(rows.count == 1)
        // A refused row left nothing behind: the next row is stored whole, in its place.
        try rows.append(.int(7), .text("seven"))
        #expect(rows.count == 2 && rows.integers[0] == [0, 7] && rows.texts[1].count == 2 && rows.nulls[0] == [true, false])
    }

    /// Turned off by the URL (`bulk=off`, for a proxy that does not pass bulk executions on), a MariaDB connection
    /// takes none, and its callers write text.
    @Test func bulkExecutionCanBeTurnedOff() async throws {
        let url = TestServer.primaryURL!
        #expect(try MySQLConfiguration(url: url + "?bulk=on").bulkExecution)
        #expect(throws: MySQLError.self) { try MySQLConfiguration(url: url + "?bulk=no") }
        let configuration = try MySQLConfiguration(url: url + "?bulk=off")
        #expect(!configuration.bulkExecution)
        let connection = MySQLConnection(configuration: configuration)
        try connection.open()
        defer { connection.close() }
        #expect(!connection.supportsBulkExecution)
        var rows = MySQLBulkRows(columns: [.int])
        try rows.append(.int(1))
        #expect { try connection.executeBulk("SELECT ?", rows) } throws: { ($0 as? MySQLError)?.code == MySQLError.unsupported }
    }
}
