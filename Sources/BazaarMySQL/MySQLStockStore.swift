public import BazaarCore
import BazaarDomain
public import MySQLClient
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Production storage on MySQL / MariaDB: writes on the primary, reads on the replicas.
///
/// Stock writes are group-committed: concurrent requests are coalesced into one transaction that locks all of
/// its stock rows up front in key order, applies each request through `LedgerWrite` (a refused request is undone
/// in memory), writes the batch in a few multi-row statements and commits once. Deadlocks (1213), lock wait
/// timeouts (1205) and a racing first insert of a row (1062) roll the batch back and run it again; a request is
/// answered only after the commit that holds it.
public final class MySQLStockStore: StockStore {
    public struct Options: Sendable {
        public var primary: MySQLConfiguration
        public var replicas: [MySQLConfiguration]
        /// Connections to the primary (group commits use one at a time; the rest serve other writes and reads).
        public var primaryConnections = 8
        public var replicaConnections = 4
        /// A replica further behind than this (or not replicating) serves no reads until it catches up.
        public var replicaMaxLagSeconds = 5
        /// How long a read carrying a consistency token waits for a replica to apply it before using the primary.
        public var replicaWaitMillis = 500
        public var maxBatch = 512
        /// Group commits in flight at once (`database.concurrent_flushes`). One: a batch takes every write that
        /// arrived while the previous one committed, so batches grow with the load and a write costs fewer
        /// statements and syncs (issue 15: 1 against 2 on the test servers, writes +11%, p99 lower, CPU per movement
        /// -14% across every process). Two help when a batch's statements take about as long as its commit (a
        /// primary far away): the next batch is written while the previous one waits for its sync.
        public var concurrentFlushes = 1
        /// The longest a read of the audit trail or a listing may run (`database.statement_timeout_ms`).
        public var statementTimeoutMillis = 5000

        public init(primary: MySQLConfiguration, replicas: [MySQLConfiguration] = []) {
            self.primary = primary
            self.replicas = replicas
        }
    }

    public let options: Options
    let primary: MySQLConnectionPool
    /// One connection that holds the outbox relay lease (a session-scoped named lock).
    let relayLease: MySQLConnectionPool
    let replicas: ReplicaSet
    let clock: WallClock
    let committer: GroupCommitter<WriteRequest, TokenedReceipt>
    let readCounter = Locked(0)
    /// Group commits run again, by cause (`bazaar_db_write_retries_total`).
    let writeRetries: WriteRetries
    /// Whether a Kafka batch's group commit reads its idempotency records first (`IdempotencyReads`).
    let idempotencyReads = IdempotencyReads()

    /// Reads this store has made (each `onReplica` or `onPrimary` round of statements on one connection): what
    /// `bazaar_db_reads_total` counts for the whole process, for this store alone (tests hold endpoints to it).
    public var readsRun: Int { readCounter.withLock { $0 } }

    public init(options: Options, clock: WallClock = .system) {
        self.options = options
        self.clock = clock
        var primaryConfiguration = options.primary
        // No gap locks: locking a missing row takes no lock, and a racing first insert fails (and is retried).
        primaryConfiguration.sessionStatements.append("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        // A group commit sends its locking reads, and its inserts with the commit, a round trip each (issue 15). Every
        // statement text is built of escaped literals or bound parameters, so no value can end one statement.
        primaryConfiguration.multiStatements = true
        // A row lock waited on longer than the client waits for an answer would end as a lost connection: in the
        // commit's round trip that leaves the batch unknown instead of retried. The server gives up first (1205, retried).
        primaryConfiguration.sessionStatements.append(
            "SET SESSION innodb_lock_wait_timeout = \(max(1, Int(primaryConfiguration.readTimeoutSeconds) - 10))")
        let primary = MySQLConnectionPool(configuration: primaryConfiguration, size: options.primaryConnections)
        self.primary = primary
        self.relayLease = MySQLConnectionPool(configuration: options.primary, size: 1)
        // Replica connections only read: the statement timeout applies to everything they run.
        self.replicas = ReplicaSet(configurations: options.replicas.map { replica in
                                       var replica = replica
                                       replica.statementTimeoutMillis = options.statementTimeoutMillis
                                       return replica
                                   }, connections: options.replicaConnections,
                                   maxLagSeconds: options.replicaMaxLagSeconds)
        let retries = WriteRetries()
        self.writeRetries = retries
        self.committer = GroupCommitter(maxBatch: options.maxBatch, concurrentFlushes: options.concurrentFlushes) { requests in
            await Self.commit(requests, pool: primary, clock: clock, retries: retries, reads: nil)
        }
    }

    /// The service that watches replica health and lag (run it in the service group).
    public var replicaMonitor: ReplicaMonitor { ReplicaMonitor(replicas: replicas) }

    // MARK: Migrations

    public func migrate() async throws {
        try await onPrimary { connection in
            guard try connection.select("SELECT GET_LOCK(CONCAT('bazaar.migrate:', DATABASE()), 120)")[0].int(0) == 1 else {
                throw MySQLError(code: MySQLError.lockNotGranted, message: "another node held the migration lock for 120 s")
            }
            defer { _ = try? connection.query("DO RELEASE_LOCK(CONCAT('bazaar.migrate:', DATABASE()))") }
            try connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, applied_at_ms BIGINT NOT NULL) \(MySQLSchema.table)
                """)
            let applied = Set(try connection.select("SELECT version FROM schema_migrations").map { try $0.int(0) })
            for migration in MySQLSchema.migrations where !applied.contains(Int64(migration.version)) {
                for statement in migration.statements { try connection.query(statement) }
                try connection.execute("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)", [migration.version, self.clock.nowMillis()])
            }
        }
        // Daily demand of a database from before it was kept (issue 14): bounded batches, resumed after a crash.
        try await backfillDemand()
    }

    // MARK: Stock writes

    public func apply(_ request: WriteRequest) async throws -> WriteReceipt {
        let (receipt, token) = try await committer.submit(request).split()
        if let token { ConsistencyScope.current?.recordWrite(token) }
        return receipt
    }

    public func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>] {
        let results = await Self.commit(requests, pool: primary, clock: clock, retries: writeRetries, reads: idempotencyReads)
        return results.map { $0.map(\.receipt) }
    }

    public func ping() async throws {
        try await onPrimary { _ = try $0.select("SELECT 1") }
    }

    public func close() async throws {
        await relayLease.close()
        await primary.close()
        await replicas.close()
    }
}

enum ReplicaAnswer<T: Sendable>: Sendable {
    case answered(T)
    case behind
}

/// A receipt with the GTID of the commit that made it.
struct TokenedReceipt: Sendable {
    var receipt: WriteReceipt
    var token: String?
    func split() -> (WriteReceipt, String?) { (receipt, token) }
}

func usleepMillis(_ millis: Double) {
    var request = timespec(tv_sec: 0, tv_nsec: Int(millis * 1_000_000))
    nanosleep(&request, nil)
}
