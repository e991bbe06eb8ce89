public import BazaarCore
public import BazaarDomain
import GRDB

/// `LedgerStore` reads: levels, listings, the audit trail, the change feed, the invariant's totals.
extension SQLiteStockStore {
    public func level(storeID: String, productID: String) async throws -> StockLevel? {
        try await pool.read { db in
            try SQLiteLedgerTransaction(db: db).lockLevel(storeID: storeID, productID: productID)
        }
    }

    public func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT store_id, product_id, \(Self.levelColumns) FROM stock_levels
                WHERE store_id = ? AND product_id > ? ORDER BY product_id LIMIT ?
                """, arguments: [storeID, afterProductID ?? "", limit]).map(Self.stockRow)
        }
    }

    public func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT store_id, product_id, \(Self.levelColumns) FROM stock_levels
                WHERE product_id = ? AND store_id > ? ORDER BY store_id LIMIT ?
                """, arguments: [productID, afterStoreID ?? "", limit]).map(Self.stockRow)
        }
    }

    /// Every filter set walks the index `AuditQuery.indexName` names (a time window as a sequence range from
    /// `ledger_days`), in the read's one snapshot: see `AuditQueryPlan.swift`.
    public func auditLog(_ query: AuditQuery) async throws -> [Movement] {
        let timeout = statementTimeoutMillis
        return try await pool.read { db in
            var sequences: ClosedRange<Int64>?
            if let days = query.ledgerDays {
                guard days.first <= days.last,
                      let row = try Row.fetchOne(db, sql: AuditQuery.ledgerDaysSQL, arguments: [days.first, days.last]) else { return [] }
                let low: Int64? = row[0], high: Int64? = row[1]
                guard let low, let high else { return [] }  // no movement on any day of the window
                sequences = low...high
            }
            let sql = Self.auditSQL(query, sequences: sequences)
            let arguments = Self.arguments(query.parameters(sequences: sequences))
            return try SQLiteStatementTimeout.run(db, millis: timeout) {
                do {
                    return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.movement(from:))
                } catch where SQLiteLedgerIndexes.isMissing(error) {
                    // A bulk load in another process has set the index aside: the same query, planned by SQLite.
                    let unindexed = query.sql(selecting: Self.movementColumns, sequences: sequences) { _ in "" }
                    return try Row.fetchAll(db, sql: unindexed, arguments: arguments).map(Self.movement(from:))
                }
            }
        }
    }

    /// The audit statement with SQLite's index clause (`NOT INDEXED`: the rowid, that is `seq`).
    static func auditSQL(_ query: AuditQuery, sequences: ClosedRange<Int64>?, columns: String = movementColumns) -> String {
        query.sql(selecting: columns, sequences: sequences) { index in index.map { "INDEXED BY \($0)" } ?? "NOT INDEXED" }
    }

    public func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.movementColumns) FROM stock_movements WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [afterSequence, limit]).map(Self.movement(from:))
        }
    }

    public func replay(_ claim: IdempotencyClaim) async throws -> WriteReceipt? {
        try await pool.read { db in
            var tx = SQLiteLedgerTransaction(db: db)
            return try LedgerWrite.replay(claim, in: &tx)
        }
    }

    public func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64) {
        try await pool.read { db in
            // The pair's checkpoint (what archiving removed) plus the ledger after it, in one snapshot.
            let row = try Row.fetchOne(db, sql: Self.ledgerTotalsSQL, arguments: [storeID, productID, storeID, productID, storeID, productID])!
            return (row[0], row[1])
        }
    }

    /// Invariant 1 with archiving: the checkpoint (0 when none) plus the deltas and rows after it.
    static let ledgerTotalsSQL = """
        SELECT COALESCE(c.quantity, 0) + (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m
                WHERE m.store_id = ? AND m.product_id = ? AND m.seq > COALESCE(c.through_seq, 0)),
            COALESCE(c.row_count, 0) + (SELECT COUNT(*) FROM stock_movements m
                WHERE m.store_id = ? AND m.product_id = ? AND m.seq > COALESCE(c.through_seq, 0))
        FROM (SELECT 1) one LEFT JOIN ledger_checkpoints c ON c.store_id = ? AND c.product_id = ?
        """
}
