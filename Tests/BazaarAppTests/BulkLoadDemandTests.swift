import BazaarApp
import BazaarCore
import BazaarDomain
@testable import BazaarSQLite
import Foundation
import GRDB
import Testing

/// Issue 14, the bulk load's speed: on SQLite a load that has the database alone stages its daily demand rows in a
/// plain table and merges them once at its end (`SQLiteStagedDemand`), and loads with a rollback journal. What must
/// hold whatever happens: the demand rows are those of every committed chunk, merged in ledger order (a pair's day
/// split over two chunks keeps the later closing level), after a finished load and after a load killed between chunks
/// (the next start merges); the file is back on its write-ahead log after the load; a store in another process is
/// refused while the load holds the file (in words); another program's connection keeps the load on the log.
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

    /// A store opened while a load holds the file alone (a server started during `bazaar demo`; a second store on the
    /// file stands for the other process, `flock` locks being per open file) is refused in words: the load is on a
    /// rollback journal its pool could not leave, and the load's later chunks would overwrite the levels of any write
    /// it served. Once the load is done the store opens, with every chunk's demand rows. Found by review: the server
    /// exited with "database is locked" (and before the journal, its writes mid-load were overwritten).
    @Test func aStoreOpenedWhileALoadHoldsTheFileIsRefusedInWordsAndOpensOnceItIsDone() async throws {
        let db = TestDatabase(.sqlite)
        let path = String(db.url.dropFirst("sqlite://".count))
        let loader = try SQLiteStockStore(path: path)
        try await loader.migrate()
        try await loader.beginBulkLoad()
        try await loader.appendBulk(Self.chunks[0])
        let refusal = #expect(throws: SQLiteFileBeingLoaded.self) { try SQLiteStockStore(path: path) }
        let sentence = CommandLineErrors.sentence(for: try #require(refusal))
        #expect(sentence.contains("is being loaded by `bazaar demo` in another process") && !sentence.contains("SQLiteFileBeingLoaded"), "\(sentence)")
        for chunk in Self.chunks.dropFirst() { try await loader.appendBulk(chunk) }
        try await loader.finishBulkLoad()
        let server = try SQLiteStockStore(path: path)
        try await server.migrate()
        let after = try Self.state(path)
        #expect(!after.staged && after.journal == "wal")
        #expect(after.rows == Self.expected(Self.chunks[...]))
        try await server.close()
        try await loader.close()
    }

    /// Another program's connection to the file (the `sqlite3` shell, a backup script) holds no `-openers` lock, so
    /// the load has the file "alone", and SQLite refuses its switch to the rollback journal (at once, "database is
    /// locked"). The load keeps the log and loads. Found by review: `bazaar demo` failed after writing the catalog.
    @Test func aLoadBesideAnotherProgramsConnectionKeepsItsLogAndLoads() async throws {
        let db = TestDatabase(.sqlite)
        let path = String(db.url.dropFirst("sqlite://".count))
        let store = try SQLiteStockStore(path: path)
        try await store.migrate()
        let other = try DatabaseQueue(path: path)
        _ = try await other.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM stores") }
        try await store.beginBulkLoad()
        #expect(try Self.state(path).journal == "wal")
        for chunk in Self.chunks { try await store.appendBulk(chunk) }
        try await store.finishBulkLoad()
        let after = try Self.state(path)
        #expect(!after.staged && after.journal == "wal")
        #expect(after.rows == Self.expected(Self.chunks[...]))
        try other.close()
        try await store.close()
    }
}

/// The writer's durability setting as the contract says: `synchronous = FULL`, one sync per group commit. Found by
/// review: GRDB's switch to the write-ahead log at the pool's opening set the writer to NORMAL after our own setup
/// ran (a power loss could take the last answered writes).
@Suite struct SQLiteWriterSettingsTests {
    @Test func theWriterSyncsEveryCommit() async throws {
        let db = TestDatabase(.sqlite)
        let store = try SQLiteStockStore(path: String(db.url.dropFirst("sqlite://".count)))
        let synchronous = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(synchronous == 2, "FULL is 2, NORMAL 1")
        try await store.close()
    }
}
