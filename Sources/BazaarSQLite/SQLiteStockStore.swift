public import BazaarCore
import BazaarDomain
import GRDB

/// The embedded default storage: one SQLite file in WAL mode.
///
/// All writes go through GRDB's single writer connection (so "database is locked" cannot happen inside the
/// process); stock writes are additionally coalesced by a `GroupCommitter` into one transaction per batch,
/// each request in its own savepoint, so one `fsync` (synchronous=FULL) covers many requests.
public final class SQLiteStockStore: StockStore {
    let pool: DatabasePool
    let clock: WallClock
    let committer: GroupCommitter<WriteRequest, WriteReceipt>
    let closed = Locked(false)
    /// This store's share of the database among the stores that have it open (`SQLiteOpeners`: a bulk load sets the
    /// ledger's read indexes aside only when it is alone).
    let openers: SQLiteOpeners

    /// The longest a read of the audit trail may run (`database.statement_timeout_ms`); 0: no limit.
    let statementTimeoutMillis: Int

    let statementCounter: Locked<Int>?

    /// SQL statements this store has run, with those GRDB runs around each read (its transaction and snapshot
    /// checks), when it was opened with `countingStatements` (else nil): how tests hold an endpoint to a bounded
    /// number of queries.
    public var statementsRun: Int? { statementCounter?.withLock { $0 } }

    /// Opens (creating if needed) the database at `path`. `countingStatements` traces every statement into
    /// `statementsRun` (tests; off by default since it costs a call per statement).
    public init(path: String, clock: WallClock = .system, countingStatements: Bool = false, statementTimeoutMillis: Int = 5000) throws {
        self.statementTimeoutMillis = statementTimeoutMillis
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 4
        let counter: Locked<Int>? = countingStatements ? Locked(0) : nil
        statementCounter = counter
        configuration.prepareDatabase { db in
            // Checkpoint less often: each checkpoint syncs the database file on the writer's path.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 8000")
            // Page cache: SQLite's default of 2 MB a connection holds a chain's hot index pages many times over short
            // (a write touches the stock row, the ledger's indexes, the daily demand row: random pages of a
            // gigabytes file). 256 MB for the one writer, 16 MB for each of the four readers: 320 MB at most, taken
            // only as pages are read (a small database never fills it). The writer's 256 MB against 64 MB: the
            // million-pair chain's writes 3,928-3,958/s against 2,886-3,359/s (BENCHMARKS.md, issue 14).
            // The readers mostly answer misses of the warmed level cache and audit pages: 16 MB each.
            try db.execute(sql: db.configuration.readonly ? "PRAGMA cache_size = -16384" : "PRAGMA cache_size = -262144")
            // Counted from here: a connection's own setup is not a statement of the request that happened to open it.
            if let counter { db.trace(options: .statement) { _ in counter.withLock { $0 += 1 } } }
        }
        let openers = SQLiteOpeners(databasePath: path)
        guard !openers.heldByALoad else {
            openers.release()
            throw SQLiteFileBeingLoaded(path: path)
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // FULL: every commit is on disk before it is answered (durability), at one sync per group commit. Set
            // after the pool opened: its switch to the write-ahead log sets the writer to NORMAL (GRDB's
            // `setUpWALMode`), after `prepareDatabase` ran. Test: `SQLiteWriterSettingsTests`.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            openers.release()
            throw error
        }
        self.pool = pool
        self.openers = openers
        self.clock = clock
        self.committer = GroupCommitter { requests in await Self.commit(requests, pool: pool, clock: clock) }
    }

    /// One transaction for the whole group. A refusal (a `DomainError`) leaves nothing of its request behind:
    /// multi-command requests run in a savepoint, single commands are refused before they write. Any other
    /// error (I/O, a full disk) fails the whole group, since the transaction's state is then unknown.
    private static func commit(_ requests: [WriteRequest], pool: DatabasePool, clock: WallClock) async -> [Result<WriteReceipt, any Error>] {
        do {
            return try await pool.writeWithoutTransaction { db in
                var results: [Result<WriteReceipt, any Error>] = []
                results.reserveCapacity(requests.count)
                let now = clock.nowMillis()
                try db.inTransaction(.immediate) {
                    var committed: [Movement] = []
                    for request in requests {
                        var receipt: WriteReceipt?
                        do {
                            var tx = SQLiteLedgerTransaction(db: db)
                            if LedgerWrite.needsSavepoint(request) {
                                try db.inSavepoint {
                                    receipt = try LedgerWrite.apply(request, in: &tx, nowMillis: now)
                                    return .commit
                                }
                            } else {
                                receipt = try LedgerWrite.apply(request, in: &tx, nowMillis: now)
                            }
                            results.append(.success(receipt!))
                            if !receipt!.replayed { committed += receipt!.movements }
                        } catch let refusal as DomainError {
                            results.append(.failure(refusal))
                        }
                    }
                    try recordDemand(committed, db: db, nowMillis: now)
                    return .commit
                }
                return results
            }
        } catch {
            // The commit itself failed: nothing of this group is durable.
            return requests.map { _ in .failure(error) }
        }
    }

    public func migrate() async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)")
            try db.inTransaction(.immediate) {
                let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
                for migration in SQLiteSchema.migrations where !applied.contains(migration.version) {
                    for statement in migration.statements { try db.execute(sql: statement) }
                    try db.execute(
                        sql: "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)",
                        arguments: [migration.version, self.clock.nowMillis()])
                }
                return .commit
            }
        }
        // The demand rows a bulk load killed before it finished left staged, and the ledger's read indexes it left out.
        try await pool.write { db in
            try SQLiteStagedDemand.fold(db)
            try SQLiteLedgerIndexes.create(db)
        }
        // Daily demand of a database from before it was kept (issue 14): bounded batches, resumed after a crash.
        try await backfillDemand()
    }

    public func apply(_ request: WriteRequest) async throws -> WriteReceipt {
        try await committer.submit(request)
    }

    public func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>] {
        // The pool's one writer serializes this transaction with the group commits.
        await Self.commit(requests, pool: pool, clock: clock)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Closes the database; later calls do nothing.
    public func close() async throws {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first {
            openers.release()
            try pool.close()
        }
    }
}
