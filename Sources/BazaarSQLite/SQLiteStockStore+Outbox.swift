public import BazaarCore
import BazaarDomain
import GRDB

/// `OutboxStore` and housekeeping: the outbox read and emptied by the relay, idempotency records forgotten.
extension SQLiteStockStore {
    /// One process owns a SQLite file's writer: its relay is the only one.
    public func holdRelayLease() async throws -> Bool { true }

    public func outboxBatch(limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.movementColumns), outbox.seq FROM outbox JOIN stock_movements ON stock_movements.seq = outbox.movement_seq
                ORDER BY outbox.seq LIMIT ?
                """, arguments: [limit]).map { row in
                    let movement = try Self.movement(from: row)
                    return OutboxEntry(sequence: row[13], topic: MovementEvent.topic, key: movement.storeID, eventID: movement.movementID,
                                       payload: movement.cloudEventJSON, movement: movement)
                }
        }
    }

    public func deleteOutbox(sequences: [Int64]) async throws {
        try await delete(sequences, from: "outbox")
    }

    /// One statement text whatever the count: the sequences travel as one JSON array parameter.
    func delete(_ sequences: [Int64], from table: String) async throws {
        guard !sequences.isEmpty else { return }
        let list = "[" + sequences.map(String.init).joined(separator: ",") + "]"
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM \(table) WHERE seq IN (SELECT value FROM json_each(?))", arguments: [list])
        }
    }

    public func outboxDepth() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }

    public func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE created_at_ms < ? AND (scope NOT LIKE ? OR created_at_ms < ?)",
                           arguments: [olderThanMillis, IdempotencyScope.commandPrefix + "%", commandsOlderThanMillis])
            return db.changesCount
        }
    }
}

/// `LedgerClockSource` (`LedgerClockWatch`): `sqlite_sequence` keeps the highest ledger sequence ever handed out
/// (rows archived or not). A file replaced by an older copy, or a new one, reads lower.
extension SQLiteStockStore: LedgerClockSource {
    public func readLedgerClock() async throws -> LedgerClockReading {
        try await pool.read { db in
            let sequence = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'stock_movements'") ?? 0
            return LedgerClockReading(sequence: sequence, server: "sqlite")
        }
    }
}
