import BazaarCore
import BazaarDomain
import GRDB

/// `LedgerTransaction` on one SQLite connection inside the writer's transaction. SQLite has a single
/// writer, so a plain read is already the locked read the ledger algorithm needs.
struct SQLiteLedgerTransaction: LedgerTransaction {
    let db: Database

    func idempotencyRecord(scope: String, key: String) throws -> (fingerprint: String, movementIDs: [String])? {
        let statement = try db.cachedStatement(sql: "SELECT fingerprint, movement_ids FROM idempotency_keys WHERE scope = ? AND key = ?")
        guard let row = try Row.fetchOne(statement, arguments: [scope, key]) else { return nil }
        let ids: String = row[1]
        return (row[0], ids.split(separator: ",").map(String.init))
    }

    func saveIdempotencyRecord(_ claim: IdempotencyClaim, movementIDs: [String], atMillis: Int64) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO idempotency_keys (scope, key, fingerprint, movement_ids, created_at_ms) VALUES (?, ?, ?, ?, ?)")
        try statement.execute(arguments: [claim.scope, claim.key, claim.fingerprint, movementIDs.joined(separator: ","), atMillis])
    }

    func movements(ids: [String]) throws -> [Movement] {
        let statement = try db.cachedStatement(sql: "SELECT \(SQLiteStockStore.movementColumns) FROM stock_movements WHERE movement_id = ?")
        return try ids.map { id in
            guard let row = try Row.fetchOne(statement, arguments: [id]) else {
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "idempotency record names missing movement \(id)")
            }
            return try SQLiteStockStore.movement(from: row)
        }
    }

    func lockLevel(storeID: String, productID: String) throws -> StockLevel? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(SQLiteStockStore.levelColumns) FROM stock_levels WHERE store_id = ? AND product_id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [storeID, productID]) else { return nil }
        return SQLiteStockStore.level(row, at: 0)
    }

    func writeLevel(storeID: String, productID: String, level: StockLevel, isNew: Bool) throws {
        let sql = isNew
            ? "INSERT INTO stock_levels (quantity, version, updated_at_ms, store_id, product_id) VALUES (?, ?, ?, ?, ?)"
            : "UPDATE stock_levels SET quantity = ?, version = ?, updated_at_ms = ? WHERE store_id = ? AND product_id = ?"
        try db.cachedStatement(sql: sql).execute(arguments: [level.quantity, level.version, level.updatedAtMillis, storeID, productID])
    }

    func appendMovement(_ m: Movement) throws -> Int64 {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO stock_movements (movement_id, store_id, product_id, delta, quantity_before, quantity_after,
                version, reason, reference, actor, at_ms, recorded_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.execute(arguments: [
            m.movementID, m.storeID, m.productID, m.delta, m.quantityBefore, m.quantityAfter, m.version,
            m.reason.rawValue, m.reference, m.actor, m.atMillis, m.recordedAtMillis,
        ])
        let sequence = db.lastInsertedRowID
        // The day's sequence range, for audit queries by time (`AuditQuery.ledgerDays`).
        try db.cachedStatement(sql: Self.extendLedgerDay).execute(arguments: [AuditQuery.ledgerDay(ofMillis: m.atMillis), sequence, sequence])
        return sequence
    }

    /// Widens a `ledger_days` row to a new sequence (or creates it).
    static let extendLedgerDay = """
        INSERT INTO ledger_days (day, min_seq, max_seq) VALUES (?, ?, ?)
        ON CONFLICT (day) DO UPDATE SET min_seq = MIN(min_seq, excluded.min_seq), max_seq = MAX(max_seq, excluded.max_seq)
        """

    func appendMovementEvent(_ movement: Movement) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO outbox (movement_seq) VALUES (?)")
        try statement.execute(arguments: [movement.sequence])
    }
}
