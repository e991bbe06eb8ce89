/// The transactional outbox: events written in the same transaction as the change they describe, read and removed
/// by the relay once published.
public protocol OutboxStore: Sendable {
    /// Whether this node may relay the outbox now. One node at a time relays a shared database's outbox, so that two
    /// nodes never publish the same batch and one store's events keep their order; another node takes over when the
    /// holder goes away. Called before every drain (cheap when already held).
    func holdRelayLease() async throws -> Bool
    /// The oldest unpublished events, in commit order (ledger sequences are handed out in commit order on every
    /// engine, see `LedgerTransaction`). An entry's `sequence` names the outbox row it came from: its movement's
    /// sequence on SQLite and in memory; on MySQL one row holds a group commit's events (up to 1,000), and they share
    /// its name.
    func outboxBatch(limit: Int) async throws -> [OutboxEntry]
    /// Removes the outbox rows these published entries came from: pass every entry of a batch (on MySQL a name stands
    /// for all the events of its row). Never "everything up to": a row that commits late below a published one would
    /// be deleted unpublished (auto-increment values are not commit order).
    func deleteOutbox(sequences: [Int64]) async throws
    func outboxDepth() async throws -> Int

    /// Events other than movements (alert changes), oldest first, and their removal once published.
    func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry]
    /// Removes exactly these published events (alert ids are auto-increment, not commit order).
    func deleteEventOutbox(sequences: [Int64]) async throws
}
