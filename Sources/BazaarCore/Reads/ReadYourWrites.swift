import Synchronization

/// Read-your-writes across a primary and lagging replicas, scoped to one request.
///
/// A write on the primary records its consistency token (the commit's GTID) here, and the HTTP layer answers
/// it in `Bazaar-Consistency`. A later request that sends the token back gets a scope with `requested` set:
/// storage then reads from a replica only once the replica has applied that token, else from the primary.
/// Storage without replicas (SQLite) ignores it: every read already sees every committed write.
public final class ConsistencyScope: Sendable {
    /// The token the client sent back, if any.
    public let requested: String?
    private let written = Mutex<String?>(nil)

    public init(requested: String?) { self.requested = requested }

    /// The scope of the current request (none outside HTTP requests).
    @TaskLocal public static var current: ConsistencyScope?

    /// Reads inside `readingThePrimary` skip the replicas: for a use case that found what it read stale (the
    /// replenishment plan's actions, refused by the levels they were planned from) and must read what is, not what
    /// a replica has applied. Writes are not affected, nor is the request's scope (its written token still answers).
    @TaskLocal public static var readsThePrimary = false

    public static func readingThePrimary<T>(_ read: () async throws -> T) async throws -> T {
        try await $readsThePrimary.withValue(true) { try await read() }
    }

    /// Called by storage after a commit on the primary; the last one wins (commits are ordered).
    public func recordWrite(_ token: String) { written.withLock { $0 = token } }

    /// The token of this request's last write, to send back to the client.
    public var writtenToken: String? { written.withLock { $0 } }

    /// Runs `read` at least as fresh as this request's own last write, whatever token the client sent: for a use case
    /// that answers the row it has just written (a catalog PUT, replenishment settings), which a replica that has
    /// not applied the write yet would answer as it was before. Without a write (or outside a request) it runs as is.
    public static func readingOwnWrite<T>(_ read: () async throws -> T) async throws -> T {
        guard let written = current?.writtenToken else { return try await read() }
        return try await $current.withValue(ConsistencyScope(requested: written)) { try await read() }
    }
}

/// The database cannot be reached (or failed mid-request with an unknown outcome). Answered as 503: the client
/// may retry, with the same Idempotency-Key when the write must not apply twice.
/// A read ran longer than `database.statement_timeout_ms` and was stopped: the caller should narrow it.
public struct QueryTimeout: Error, CustomStringConvertible {
    public var description: String { "the query ran longer than the statement timeout and was stopped" }
    public init() {}
}

/// The database cannot be reached, or did not answer. `writeMayHaveApplied`: the write's commit was sent and its
/// answer lost, so it may have been applied (retry it with its `Idempotency-Key`; without one, check before writing
/// again): the API says so in the problem's `outcome` member (`"unknown"`).
public struct StorageUnavailable: Error, CustomStringConvertible {
    public var description: String
    public var writeMayHaveApplied: Bool

    public init(_ description: String, writeMayHaveApplied: Bool = false) {
        self.description = description
        self.writeMayHaveApplied = writeMayHaveApplied
    }
}
