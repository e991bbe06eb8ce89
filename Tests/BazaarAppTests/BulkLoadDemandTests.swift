import BazaarCore
import BazaarDomain
import BazaarSQLite
import Foundation
import GRDB
import Testing

/// Issue 14, the bulk load's speed: on SQLite a load that has the database alone stages its daily demand rows in a
/// plain table and merges them once at its end (`SQLiteStagedDemand`), and loads with a rollback journal. What must
/// hold whatever happens: the demand rows are those of every committed chunk, merged in ledger order (a pair's day
/// split over two chunks keeps the later closing level), after a finished load, after a load killed between chunks
/// (the next start merges), and with a server that opens the file mid-load; and the file is back on its
/// write-ahead log after the load.
@Suite struct BulkLoadDemandTests {
    /// Movements every hour over 3 stores x 2 products (one every 6 hours each): a pair's day spans consecutive chunks
    /// of 20, and sales, receipts and closing levels differ within it.
    static func chunk(_ count: Int, from first: Int) -> BulkLedgerChunk {
        let t0: Int64 = 1_764_000_000_000
        let movements = (first..<first + count).map { (n: Int) -> Movement in
            let sale = n % 4 != 0
            let at = t0 + Int64(n) * 3_600_000
            return Movement(sequence: 0, movementID: UUID().uuidString.lowercased(), storeID: "S\(n % 3)", productID: "P\(n % 2)",
                            delta: sale ? -1 : 4, quantityBefore: Int64(n), quantityAfter: Int64(n) + (sale ? -1 : 4), version: Int64(n + 1),
                            reason: sale ? .sale : .receipt, reference: nil, actor: "till", atMillis: at, recordedAtMillis: at)
        }
        return BulkLedgerChunk(movements: movements)
    }

    static let chunks = [chunk(20, from: 0), chunk(20, from: 20), chunk(20, from: 40)]

    /// What every committed chunk adds, merged: the rollup of their movements in ledger order.
    static func expected(_ chunks: ArraySlice<BulkLedgerChunk>) -> [String] {
        DemandDays.rollup(chunks.flatMap(\.movements)).map { "\($0.storeID) \($0.productID) \($0.day) \($0.sold) \($0.returned) \($0.inStock) \($0.closing)" }
    }

    /// The file's demand rows (key order), whether rows are still staged, and its journal mode.
    static func state(_ path: String) throws -> (rows: [String], staged: Bool, journal: String) {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT store_id, product_id, day, sold, returned, in_stock, closing FROM stock_demand_daily ORDER BY store_id, product_id, day
                """).map { r in "\(r[0] as String) \(r[1] as String) \(r[2] as Int64) \(r[3] as Int64) \(r[4] as Int64) \((r[5] as Int64) != 0) \(r[6] as Int64)" }
            return (rows, try db.tableExists("stock_demand_daily_staged"), try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "")
        }
    }

    @Test func aFinishedLoadMergesTheStagedRowsInLedgerOrderAndIsBackOnItsLog() async throws {
        let db = TestDatabase(.sqlite)
        let path = String(db.url.dropFirst("sqlite://".count))
        let store = try SQLiteStockStore(path: path)
        try await store.migrate()
        try await store.beginBulkLoad()
        for chunk in Self.chunks { try await store.appendBulk(chunk) }
        let during = try Self.state(path)
        #expect(during.staged && during.rows.isEmpty && during.journal == "delete", "staged, on a rollback journal: \(during)")
        try await store.finishBulkLoad()
        let after = try Self.state(path)
        #expect(!after.staged && after.journal == "wal")
        #expect(after.rows == Self.expected(Self.chunks[...]))
        try await store.close()
    }

    @Test func aLoadKilledBetweenChunksHasItsStagedRowsMergedAtTheNextStart() async throws {
        let db = TestDatabase(.sqlite)
        let path = String(db.url.dropFirst("sqlite://".count))
        let store = try SQLiteStockStore(path: path)
        try await store.migrate()
        try await store.beginBulkLoad()
        for chunk in Self.chunks.prefix(2) { try await store.appendBulk(chunk) }
        try await store.close()  // killed: no finishBulkLoad
        let reopened = try SQLiteStockStore(path: path)
        try await reopened.migrate()
        let after = try Self.state(path)
        #expect(!after.staged && after.journal == "wal")
        #expect(after.rows == Self.expected(Self.chunks.prefix(2)))
        try await reopened.close()
    }

    /// A server opening the file mid-load (the load had it alone) merges what is staged and drops the table; the
    /// load's later chunks then upsert directly, so the server's rows are current from then on and exact at the end.
    @Test func aServerOpenedMidLoadMergesWhatIsStagedAndTheLoadCarriesOnDirectly() async throws {
        let db = TestDatabase(.sqlite)
        let path = String(db.url.dropFirst("sqlite://".count))
        let loader = try SQLiteStockStore(path: path)
        try await loader.migrate()
        try await loader.beginBulkLoad()
        try await loader.appendBulk(Self.chunks[0])
        let server = try SQLiteStockStore(path: path)
        try await server.migrate()
        #expect(try Self.state(path).rows == Self.expected(Self.chunks.prefix(1)))
        try await loader.appendBulk(Self.chunks[1])
        #expect(try Self.state(path).rows == Self.expected(Self.chunks.prefix(2)), "not staged once the server merged")
        try await loader.appendBulk(Self.chunks[2])
        try await loader.finishBulkLoad()
        let after = try Self.state(path)
        #expect(!after.staged && after.journal == "wal")
        #expect(after.rows == Self.expected(Self.chunks[...]))
        try await server.close()
        try await loader.close()
    }
}
