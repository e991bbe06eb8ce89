public import BazaarCore
import BazaarDomain
import MySQLClient

/// `OutboxStore` and housekeeping: the relay's lease, the outbox read and emptied by the relay, idempotency records forgotten.
extension MySQLStockStore {
    /// The relay lease is the named lock `bazaar.outbox-relay:<database>` (named locks are server-wide), held by a connection of its own: the server releases
    /// it when that connection ends (the node stopped or died), and another node's next drain takes it.
    public func holdRelayLease() async throws -> Bool {
        do {
            return try await relayLease.withConnection { connection in
                try connection.select("SELECT IS_USED_LOCK(CONCAT('bazaar.outbox-relay:', DATABASE())) = CONNECTION_ID()")[0].optionalInt(0) == 1
                    || connection.select("SELECT GET_LOCK(CONCAT('bazaar.outbox-relay:', DATABASE()), 0)")[0].optionalInt(0) == 1
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    public func outboxBatch(limit: Int) async throws -> [OutboxEntry] {
        try await onPrimary { connection in
            try connection.select("""
                SELECT \(MySQLRows.movementColumns), outbox.seq FROM outbox JOIN stock_movements ON stock_movements.seq = outbox.movement_seq
                ORDER BY outbox.seq LIMIT ?
                """, [limit]).map { row in
                let movement = try MySQLRows.movement(row)
                return OutboxEntry(sequence: try row.int(13), topic: MovementEvent.topic, key: movement.storeID, eventID: movement.movementID,
                                   payload: movement.cloudEventJSON, movement: movement)
            }
        }
    }

    public func deleteOutbox(sequences: [Int64]) async throws {
        try await delete(sequences, from: "outbox")
    }

    /// Integer literals in a text-protocol statement: no prepared statement per distinct list.
    func delete(_ sequences: [Int64], from table: String) async throws {
        guard !sequences.isEmpty else { return }
        try await onPrimary { connection in
            for start in stride(from: 0, to: sequences.count, by: 1000) {
                let list = sequences[start..<min(start + 1000, sequences.count)].map(String.init).joined(separator: ",")
                try connection.run("DELETE FROM \(table) WHERE seq IN (\(list))")
            }
        }
    }

    public func outboxDepth() async throws -> Int {
        try await onPrimary { Int(try $0.select("SELECT COUNT(*) FROM outbox")[0].int(0)) }
    }

    public func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry] {
        try await onPrimary { try $0.select("SELECT seq, topic, `key`, event_id, payload FROM event_outbox ORDER BY seq LIMIT ?", [limit]).map(MySQLRows.outboxEntry) }
    }

    public func deleteEventOutbox(sequences: [Int64]) async throws {
        try await delete(sequences, from: "event_outbox")
    }

    public func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int {
        try await onPrimary {
            Int(try $0.execute("DELETE FROM idempotency_keys WHERE created_at_ms < ? AND (scope NOT LIKE ? OR created_at_ms < ?)",
                               [olderThanMillis, IdempotencyScope.commandPrefix + "%", commandsOlderThanMillis]).affectedRows)
        }
    }
}
