public import BazaarCore
public import BazaarDomain
import MySQLClient

/// `LedgerStore` reads: levels, listings, the audit trail, the change feed, the invariant's totals.
extension MySQLStockStore {
    public func level(storeID: String, productID: String) async throws -> StockLevel? {
        try await onReplica { connection in
            try connection.select("SELECT \(MySQLRows.levelStateColumns) FROM stock_levels WHERE store_id = ? AND product_id = ?",
                                  [storeID, productID]).first.map { try MySQLRows.level($0, at: 0) }
        }
    }

    public func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        try await onReplica { connection in
            try connection.select("""
                SELECT \(MySQLRows.levelColumns) FROM stock_levels WHERE store_id = ? AND product_id > ? ORDER BY product_id LIMIT ?
                """, [storeID, afterProductID ?? "", limit]).map(MySQLRows.stockRow)
        }
    }

    public func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        try await onReplica { connection in
            try connection.select("""
                SELECT \(MySQLRows.levelColumns) FROM stock_levels WHERE product_id = ? AND store_id > ? ORDER BY store_id LIMIT ?
                """, [productID, afterStoreID ?? "", limit]).map(MySQLRows.stockRow)
        }
    }

    /// Every filter set walks the index `AuditQuery.indexName` names (a time window as a sequence range from
    /// `ledger_days`, read on the same connection just before): see `AuditQueryPlan.swift`.
    public func auditLog(_ query: AuditQuery) async throws -> [Movement] {
        // On the primary (no replica, or one behind) the session has no timeout (it also writes): per statement.
        let timeout = options.statementTimeoutMillis
        return try await onReplica { connection in
            var sequences: ClosedRange<Int64>?
            if let days = query.ledgerDays {
                guard days.first <= days.last else { return [] }
                let row = try connection.select(AuditQuery.ledgerDaysSQL, [days.first, days.last])[0]
                guard let low = try row.optionalInt(0), let high = try row.optionalInt(1) else { return [] }  // no movement in the window
                sequences = low...high
            }
            let sql = Self.auditSQL(query, sequences: sequences)
            let parameters = MySQLRows.bound(query.parameters(sequences: sequences))
            let bounded = connection.isMariaDB ? "SET STATEMENT max_statement_time = \(Double(timeout) / 1000) FOR " + sql
                : "SELECT /*+ MAX_EXECUTION_TIME(\(timeout)) */ " + sql.dropFirst("SELECT ".count)
            return try connection.select(bounded, parameters).map(MySQLRows.movement)
        }
    }

    /// The audit statement with MySQL's index clause (`PRIMARY`: `seq`).
    static func auditSQL(_ query: AuditQuery, sequences: ClosedRange<Int64>?, columns: String = MySQLRows.movementColumns) -> String {
        query.sql(selecting: columns, sequences: sequences) { index in "FORCE INDEX (\(index ?? "PRIMARY"))" }
    }

    public func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] {
        try await onReplica { connection in
            try connection.select("SELECT \(MySQLRows.movementColumns) FROM stock_movements WHERE seq > ? ORDER BY seq LIMIT ?",
                                  [afterSequence, limit]).map(MySQLRows.movement)
        }
    }

    public func replay(_ claim: IdempotencyClaim) async throws -> WriteReceipt? {
        try await replayOnPrimary { connection in
            var tx = MySQLLedgerTransaction(connection: connection)
            return try LedgerWrite.replay(claim, in: &tx)
        }
    }

    /// The invariant check reads the primary: it must be authoritative, not merely recent. The pair's checkpoint
    /// (what archiving removed) plus the ledger after it, in one statement (one snapshot).
    public func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64) {
        try await onPrimary { connection in
            let row = try connection.select("""
                SELECT CAST(COALESCE(c.quantity, 0) + (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m
                        WHERE m.store_id = ? AND m.product_id = ? AND m.seq > COALESCE(c.through_seq, 0)) AS SIGNED),
                    COALESCE(c.row_count, 0) + (SELECT COUNT(*) FROM stock_movements m
                        WHERE m.store_id = ? AND m.product_id = ? AND m.seq > COALESCE(c.through_seq, 0))
                FROM (SELECT 1 AS one) one LEFT JOIN ledger_checkpoints c ON c.store_id = ? AND c.product_id = ?
                """, [storeID, productID, storeID, productID, storeID, productID])[0]
            return (try row.int(0), try row.int(1))
        }
    }
}
