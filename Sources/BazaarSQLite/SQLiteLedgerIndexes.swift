import GRDB

/// The ledger's secondary indexes, which only serve reads: the audit filters (`AuditQuery.indexName`), a pair's history
/// and a product's. A bulk load (`bazaar demo` at chain sizes) sets them aside while it writes and builds each again in
/// one sort when it finishes (`SQLiteStockStore.beginBulkLoad`, `finishBulkLoad`): maintained row by row, the indexes of
/// a million-pair ledger outgrow the page cache and cost most of a load.
///
/// Each definition is the one its migration created (`SQLiteSchema`), under the same name; the unique indexes and the
/// primary key, which the write path relies on, are never set aside.
enum SQLiteLedgerIndexes {
    static let definitions: [(name: String, columns: String)] = [
        ("stock_movements_by_level", "store_id, product_id, seq"),
        ("stock_movements_by_product", "product_id, seq"),
        ("stock_movements_by_store", "store_id, seq"),
        ("stock_movements_by_actor", "actor, seq"),
        ("stock_movements_by_reason", "reason, seq"),
        ("stock_movements_by_actor_reason", "actor, reason, seq"),
    ]

    static func drop(_ db: Database) throws {
        for index in definitions { try db.execute(sql: "DROP INDEX IF EXISTS \(index.name)") }
    }

    /// Creates what is missing: nothing at all on a database whose indexes are in place (every start runs this, so a
    /// load killed before it finished leaves a ledger that the next start indexes before it serves).
    static func create(_ db: Database) throws {
        for index in definitions { try db.execute(sql: "CREATE INDEX IF NOT EXISTS \(index.name) ON stock_movements (\(index.columns))") }
    }

    /// Whether a read failed because an index it names (`INDEXED BY`) is set aside by a load in another process.
    static func isMissing(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.message?.contains("no such index: stock_movements_") == true
    }
}
