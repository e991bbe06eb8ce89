public import BazaarDomain

/// The outbox of movement events and of other events (alert changes), and the housekeeping of idempotency records.
extension InMemoryLedgerStore: OutboxStore, StorageMaintenance {
    /// One process owns the memory: its relay is the only one.
    public func holdRelayLease() async throws -> Bool { true }

    /// The movement's event, rendered when read (the outbox keeps only the sequence), in commit order.
    public func outboxBatch(limit: Int) async throws -> [OutboxEntry] {
        tables.withLock { tables in
            tables.outbox.prefix(max(0, limit)).map { sequence in
                let movement = tables.ledger[Int(sequence) - 1]
                return OutboxEntry(sequence: sequence, topic: MovementEvent.topic, key: movement.storeID, eventID: movement.movementID,
                                   payload: movement.cloudEventJSON, movement: movement)
            }
        }
    }

    /// Exactly these events, never a range.
    public func deleteOutbox(sequences: [Int64]) async throws {
        let published = Set(sequences)
        tables.withLock { tables in tables.outbox.removeAll { published.contains($0) } }
    }

    public func outboxDepth() async throws -> Int {
        tables.withLock { $0.outbox.count }
    }

    public func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry] {
        tables.withLock { Array($0.eventOutbox.prefix(max(0, limit))) }
    }

    public func deleteEventOutbox(sequences: [Int64]) async throws {
        let published = Set(sequences)
        tables.withLock { tables in tables.eventOutbox.removeAll { published.contains($0.sequence) } }
    }

    /// Nothing to migrate: the tables are the types.
    public func migrate() async throws {}

    public func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int {
        tables.withLock { tables in
            let before = tables.idempotency.count
            tables.idempotency = tables.idempotency.filter { id, record in
                let cutOff = id.scope.hasPrefix(IdempotencyScope.commandPrefix) ? min(olderThanMillis, commandsOlderThanMillis) : olderThanMillis
                return record.createdAtMillis >= cutOff
            }
            return before - tables.idempotency.count
        }
    }

    public func ping() async throws {}

    /// Nothing to release; the tables stay readable.
    public func close() async throws {}
}
