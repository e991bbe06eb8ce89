import GRDB

/// The daily demand rows of a bulk load that has the database alone, kept in a plain table in ledger order and merged
/// into `stock_demand_daily` in key order once, at the load's end.
///
/// Why: a load's chunk is a range of stores on one day, and `stock_demand_daily` is ordered by store, product and day,
/// so every chunk inserted a row into each leaf page of a third of the demand tree: on a million-pair chain each
/// chunk rewrote (to the write-ahead log, then to the file) hundreds of megabytes for a few megabytes of new rows. Appended here
/// instead, a chunk's rows fill new pages only; the merge sorts them once and appends them to the tree in its order.
///
/// What holds: a chunk's rows are staged in the chunk's own transaction, and every start merges what a killed load
/// left (`fold`, run by `SQLiteStockStore.migrate` before anything reads), so the demand rows of every committed
/// chunk reach `stock_demand_daily`, merged in ledger order exactly as the per-chunk upserts merged them
/// (`DemandDay.merged(with:)`). Stores in other processes refuse to open the file while the load holds it
/// (`SQLiteFileBeingLoaded`); were the table dropped under a running load all the same, its later chunks would find
/// none and upsert directly, after the merged rows in ledger order.
enum SQLiteStagedDemand {
    static let table = "stock_demand_daily_staged"

    /// Created by `beginBulkLoad` when the load has the database alone (`SQLiteOpeners`).
    static let create = """
        CREATE TABLE IF NOT EXISTS stock_demand_daily_staged (
            store_id TEXT NOT NULL, product_id TEXT NOT NULL, day INTEGER NOT NULL, sold INTEGER NOT NULL, returned INTEGER NOT NULL,
            in_stock INTEGER NOT NULL, closing INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)
        """

    /// The staged row: the parameters of `SQLiteStockStore.upsertDemand`, in its order.
    static let insert = """
        INSERT INTO stock_demand_daily_staged (store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Whether a load's chunk stages its demand rows (the table is there) or upserts them. Asked of SQLite itself, not
    /// GRDB's schema cache, which does not see the table dropped by another process's connection.
    static func isActive(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)", arguments: [table]) ?? false
    }

    /// Merges every staged row into `stock_demand_daily` (in key order, and within a key in the order staged: ledger
    /// order) and drops the table, in the caller's transaction. Nothing when no load staged anything.
    static func fold(_ db: Database) throws {
        guard try isActive(db) else { return }
        // `WHERE true`: SQLite's grammar needs it between a SELECT and an upsert's ON CONFLICT.
        try db.execute(sql: """
            INSERT INTO stock_demand_daily (store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms)
            SELECT store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms FROM stock_demand_daily_staged
            WHERE true ORDER BY store_id, product_id, day, rowid \(SQLiteStockStore.mergeDemand)
            """)
        try db.execute(sql: "DROP TABLE stock_demand_daily_staged")
    }
}
