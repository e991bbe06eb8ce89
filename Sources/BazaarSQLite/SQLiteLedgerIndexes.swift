import GRDB

/// The ledger's secondary indexes, which only serve reads: the audit filters (`AuditQuery.indexName`), a pair's history
/// and a product's. A bulk load (`bazaar demo` at chain sizes) sets them aside while it writes and builds each again in
/// one sort when it finishes (`SQLiteStockStore.beginBulkLoad`, `finishBulkLoad`): maintained row by row, the indexes of
/// a million-pair ledger outgrow the page cache and cost most of a load.
///
/// The daily demand rows' per-store index (`stock_demand_daily_by_store`, the per-store trend's covering index) is set
/// aside with them: a load writes about one demand row per movement, and its index cost a quarter of those inserts
/// (BENCHMARKS.md, "The bulk load's demand rows from the generator").
///
/// Each definition is the one its migration created (`SQLiteSchema`), under the same name; the unique indexes and the
/// primary keys, which the write path relies on, are never set aside.
enum SQLiteLedgerIndexes {
    static let definitions: [(name: String, table: String, columns: String)] = [
        ("stock_movements_by_level", "stock_movements", "store_id, product_id, seq"),
        ("stock_movements_by_product", "stock_movements", "product_id, seq"),
        ("stock_movements_by_store", "stock_movements", "store_id, seq"),
        ("stock_movements_by_actor", "stock_movements", "actor, seq"),
        ("stock_movements_by_reason", "stock_movements", "reason, seq"),
        ("stock_movements_by_actor_reason", "stock_movements", "actor, reason, seq"),
        ("stock_demand_daily_by_store", "stock_demand_daily", "store_id, day, sold, returned"),
    ]

    static func drop(_ db: Database) throws {
        for index in definitions { try db.execute(sql: "DROP INDEX IF EXISTS \(index.name)") }
    }

    /// Creates what is missing: nothing at all on a database whose indexes are in place (every start runs this, so a
    /// load killed before it finished leaves a ledger that the next start indexes before it serves).
    static func create(_ db: Database) throws {
        for index in definitions { try db.execute(sql: "CREATE INDEX IF NOT EXISTS \(index.name) ON \(index.table) (\(index.columns))") }
    }

    /// Whether a read failed because an index it names (`INDEXED BY`) is set aside by a load in another process.
    static func isMissing(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.message?.contains("no such index: stock_movements_") == true
    }
}
