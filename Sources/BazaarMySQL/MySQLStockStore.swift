public import BazaarCore
public import BazaarDomain
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
    private let committer: GroupCommitter<WriteRequest, TokenedReceipt>
    private let readCounter = Locked(0)

    /// Reads this store has made (each `onReplica` or `onPrimary` round of statements on one connection): what
    /// `bazaar_db_reads_total` counts for the whole process, for this store alone (tests hold endpoints to it).
    public var readsRun: Int { readCounter.withLock { $0 } }

    public init(options: Options, clock: WallClock = .system) {
        self.options = options
        self.clock = clock
        var primaryConfiguration = options.primary
        // No gap locks: locking a missing row takes no lock, and a racing first insert fails (and is retried).
        primaryConfiguration.sessionStatements.append("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
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
        // Two batches in flight: one is being written while the other waits for its commit to be durable.
        self.committer = GroupCommitter(maxBatch: options.maxBatch, concurrentFlushes: 2) { requests in
            await Self.commit(requests, pool: primary, clock: clock)
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
        let results = await Self.commit(requests, pool: primary, clock: clock)
        return results.map { $0.map(\.receipt) }
    }

    private static func commit(_ requests: [WriteRequest], pool: MySQLConnectionPool, clock: WallClock) async -> [Result<TokenedReceipt, any Error>] {
        do {
            return try await pool.withConnection { connection in
                try commitBatch(requests, connection: connection, clock: clock)
            }
        } catch {
            let failure = Self.storageError(error)
            return requests.map { _ in .failure(failure) }
        }
    }

    /// One transaction for the batch, retried as a whole on conflicts. Runs on the connection's own thread.
    static func commitBatch(_ requests: [WriteRequest], connection: MySQLConnection, clock: WallClock) throws -> [Result<TokenedReceipt, any Error>] {
        var keys = Set<MySQLLedgerTransaction.Key>()
        for request in requests {
            for command in request.commands { keys.insert(.init(storeID: command.storeID, productID: command.productID)) }
        }
        let sortedKeys = keys.sorted()
        var attempt = 0
        while true {
            var committing = false
            do {
                try connection.open()
                let now = clock.nowMillis()
                try connection.begin()
                var tx = MySQLLedgerTransaction(connection: connection)
                try tx.lock(sortedKeys)
                try tx.prefetchIdempotency(requests.compactMap(\.idempotency))
                var outcomes: [Result<WriteReceipt, any Error>] = []
                outcomes.reserveCapacity(requests.count)
                for request in requests {
                    let savepoint = tx.savepoint()
                    do {
                        outcomes.append(.success(try LedgerWrite.apply(request, in: &tx, nowMillis: now)))
                    } catch let refusal as DomainError {
                        tx.rollback(to: savepoint)  // nothing of a refused request reaches the database
                        outcomes.append(.failure(refusal))
                    }
                }
                let sequences = try tx.flush()
                committing = true
                try connection.commit()
                let token = connection.lastGTID
                return outcomes.map { outcome in
                    outcome.map { receipt in
                        var receipt = receipt
                        for index in receipt.movements.indices where receipt.movements[index].sequence < 0 {
                            receipt.movements[index].sequence = sequences[Int(-receipt.movements[index].sequence) - 1]
                        }
                        return TokenedReceipt(receipt: receipt, token: token)
                    }
                }
            } catch let error as MySQLError {
                if connection.isOpen && connection.inTransaction { connection.rollback() }
                let retryable = error.isRetryableConflict || error.code == MySQLError.duplicateKey
                    || (error.isConnectionLost && !committing)
                guard retryable, attempt < 8 else { throw error }
                attempt += 1
                // Back off a little, with jitter, so that conflicting batches stop colliding.
                usleepMillis(Double.random(in: 1...4) * Double(attempt))
            }
        }
    }

    // MARK: Stock reads

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
            let parameters: [any MySQLBindable] = query.parameters(sequences: sequences).map { parameter in
                switch parameter {
                case .text(let text): text
                case .integer(let number): number
                }
            }
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

    // MARK: Catalog

    public func upsertStore(_ store: Store) async throws -> Bool {
        try await writeOnPrimary { connection in
            let existed = try !connection.select("SELECT 1 FROM stores WHERE id = ? FOR UPDATE", [store.id]).isEmpty
            try connection.execute("""
                INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE name = VALUES(name), attributes = VALUES(attributes), updated_at_ms = VALUES(updated_at_ms)
                """, [store.id, store.name, store.attributesJSON, store.createdAtMillis, store.updatedAtMillis])
            return !existed
        }
    }

    /// Stores are never deleted: a replica's hit is right, and its miss is checked on the primary (it may lag).
    public func store(id: String) async throws -> Store? {
        let sql = "SELECT \(MySQLRows.storeColumns) FROM stores WHERE id = ?"
        if let found = try await onReplica({ try $0.select(sql, [id]).first.map(MySQLRows.store) }) { return found }
        return try await onPrimary { try $0.select(sql, [id]).first.map(MySQLRows.store) }
    }

    public func stores(afterID: String?, limit: Int) async throws -> [Store] {
        try await onReplica { connection in
            try connection.select("SELECT \(MySQLRows.storeColumns) FROM stores WHERE id > ? ORDER BY id LIMIT ?", [afterID ?? "", limit])
                .map(MySQLRows.store)
        }
    }

    public func upsertProduct(_ p: Product) async throws -> Bool {
        try await writeOnPrimary { connection in
            let existed = try !connection.select("SELECT 1 FROM products WHERE id = ? FOR UPDATE", [p.id]).isEmpty
            try connection.execute("""
                INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms,
                    updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE name = VALUES(name), attributes = VALUES(attributes), lead_time_days = VALUES(lead_time_days),
                    review_period_days = VALUES(review_period_days), pack_size = VALUES(pack_size), service_level = VALUES(service_level),
                    updated_at_ms = VALUES(updated_at_ms)
                """, [p.id, p.name, p.attributesJSON, p.leadTimeDays, p.reviewPeriodDays, p.packSize, p.serviceLevel, p.createdAtMillis,
                      p.updatedAtMillis])
            return !existed
        }
    }

    /// As `store(id:)`: a replica's miss is checked on the primary.
    public func product(id: String) async throws -> Product? {
        let sql = "SELECT \(MySQLRows.productColumns) FROM products WHERE id = ?"
        if let found = try await onReplica({ try $0.select(sql, [id]).first.map(MySQLRows.product) }) { return found }
        return try await onPrimary { try $0.select(sql, [id]).first.map(MySQLRows.product) }
    }

    public func products(afterID: String?, limit: Int) async throws -> [Product] {
        try await onReplica { connection in
            try connection.select("SELECT \(MySQLRows.productColumns) FROM products WHERE id > ? ORDER BY id LIMIT ?", [afterID ?? "", limit])
                .map(MySQLRows.product)
        }
    }

    public func allStoreIDs() async throws -> [String] {
        try await onPrimary { try $0.select("SELECT id FROM stores").map { try $0.string(0) } }
    }

    public func allProductIDs() async throws -> [String] {
        try await onPrimary { try $0.select("SELECT id FROM products").map { try $0.string(0) } }
    }

    // MARK: API keys (always on the primary: a new key works at once, a revoked one stops at once)

    public func insertAPIKey(_ r: APIKeyRecord) async throws {
        try await writeOnPrimary { connection in
            try connection.execute("""
                INSERT INTO api_keys (id, name, role, stores, key_hash, created_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [r.id, r.name, r.role.rawValue, r.stores.joined(separator: ","), r.keyHash, r.createdAtMillis, r.revokedAtMillis])
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await onPrimary { try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys WHERE key_hash = ?", [hash]).first.map(MySQLRows.apiKey) }
    }

    public func apiKeys() async throws -> [APIKeyRecord] {
        try await onPrimary { try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys ORDER BY created_at_ms, id").map(MySQLRows.apiKey) }
    }

    public func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool {
        try await writeOnPrimary { connection in
            try connection.execute("UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL", [atMillis, id]).affectedRows > 0
        }
    }

    public func hasActiveAdminKey() async throws -> Bool {
        try await onPrimary { try !$0.select("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL LIMIT 1").isEmpty }
    }

    // MARK: Outbox and housekeeping

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
    private func delete(_ sequences: [Int64], from table: String) async throws {
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

    public func ping() async throws {
        try await onPrimary { _ = try $0.select("SELECT 1") }
    }

    public func close() async throws {
        await relayLease.close()
        await primary.close()
        await replicas.close()
    }

    // MARK: Routing

    /// A read that may be served by a replica: round robin over the healthy ones; a replica that fails is marked
    /// down and the next one (finally the primary) answers. With a consistency token, the replica first waits
    /// (within `replicaWaitMillis`) until it has applied that write, else the primary answers.
    func onReplica<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        let token = ConsistencyScope.current?.requested
        let waitSeconds = Double(options.replicaWaitMillis) / 1000
        for replica in replicas.candidates() {
            do {
                let answer: ReplicaAnswer<T> = try await replica.pool.withConnection { connection in
                    if let token {
                        let caughtUp = connection.isMariaDB
                            ? try connection.select("SELECT MASTER_GTID_WAIT(?, ?)", [token, waitSeconds])[0].int(0) == 0
                            : try connection.select("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", [token, waitSeconds])[0].int(0) == 0
                        if !caughtUp { return .behind }
                    }
                    return .answered(try body(connection))
                }
                switch answer {
                case .answered(let value):
                    StorageMetrics.read(replica: true)
                    readCounter.withLock { $0 += 1 }
                    return value
                case .behind:
                    StorageMetrics.replicaBehind()
                    return try await onPrimary(body)
                }
            } catch let error as MySQLError where error.isConnectionLost || error.code == MySQLError.poolClosed {
                replica.markDown()
            } catch let error as MySQLError where error.isStatementTimeout {
                throw QueryTimeout()
            } catch let error as MySQLError where error.code == MySQLError.noSuchTable {
                // The replica has not applied a migration yet: it is behind, the primary answers.
                StorageMetrics.replicaBehind()
                return try await onPrimary(body)
            }
        }
        return try await onPrimary(body)
    }

    @discardableResult
    func onPrimary<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        do {
            let value = try await primary.withConnection(body)
            StorageMetrics.read(replica: false)
            readCounter.withLock { $0 += 1 }
            return value
        } catch {
            throw Self.storageError(error)
        }
    }

    /// A write in its own transaction on the primary; its GTID becomes the request's consistency token.
    @discardableResult
    func writeOnPrimary<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        let (value, token): (T, String?) = try await onPrimary { connection in
            let value = try connection.transaction(body)
            return (value, connection.lastGTID)
        }
        if let token { ConsistencyScope.current?.recordWrite(token) }
        return value
    }

    /// A lost or unreachable database, or conflicts that outlasted every retry, are the client's 503 (retry later,
    /// with the same Idempotency-Key), not a 500.
    static func storageError(_ error: any Error) -> any Error {
        if let error = error as? MySQLError, error.isStatementTimeout { return QueryTimeout() }
        if let error = error as? MySQLError,
            error.isConnectionLost || error.code == MySQLError.poolClosed || error.isRetryableConflict || error.code == MySQLError.duplicateKey
        {
            return StorageUnavailable("database unavailable: \(error.message)")
        }
        return error
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
