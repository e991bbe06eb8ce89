/// The life of a storage engine: its schema, its housekeeping, its health.
public protocol StorageMaintenance: Sendable {
    /// Applies pending schema migrations; safe to call on every start.
    func migrate() async throws
    /// Forgets idempotency records older than the cut-off, and those of Kafka commands (scopes starting with
    /// `IdempotencyScope.commandPrefix`) older than their own cut-off; returns how many.
    func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int
    /// A trivial query, for readiness checks.
    func ping() async throws
    /// Releases connections and files.
    func close() async throws
}
