public import BazaarCore
public import BazaarDomain
import GRDB

/// The embedded default storage: one SQLite file in WAL mode.
///
/// All writes go through GRDB's single writer connection (so "database is locked" cannot happen inside the
/// process); stock writes are additionally coalesced by a `GroupCommitter` into one transaction per batch,
/// each request in its own savepoint, so one `fsync` (synchronous=FULL) covers many requests.
public final class SQLiteStockStore: StockStore {
    let pool: DatabasePool
    let clock: WallClock
    private let committer: GroupCommitter<WriteRequest, WriteReceipt>
    private let closed = Locked(false)

    /// The longest a read of the audit trail may run (`database.statement_timeout_ms`); 0: no limit.
    let statementTimeoutMillis: Int

    private let statementCounter: Locked<Int>?

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
            if let counter { db.trace(options: .statement) { _ in counter.withLock { $0 += 1 } } }
            // FULL: every commit is on disk before it is answered (durability), at one sync per group commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Checkpoint less often: each checkpoint syncs the database file on the writer's path.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 8000")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        self.pool = pool
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

    // MARK: Stock reads

    public func level(storeID: String, productID: String) async throws -> StockLevel? {
        try await pool.read { db in
            try SQLiteLedgerTransaction(db: db).lockLevel(storeID: storeID, productID: productID)
        }
    }

    public func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT store_id, product_id, \(Self.levelColumns) FROM stock_levels
                WHERE store_id = ? AND product_id > ? ORDER BY product_id LIMIT ?
                """, arguments: [storeID, afterProductID ?? "", limit]).map(Self.stockRow)
        }
    }

    public func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT store_id, product_id, \(Self.levelColumns) FROM stock_levels
                WHERE product_id = ? AND store_id > ? ORDER BY store_id LIMIT ?
                """, arguments: [productID, afterStoreID ?? "", limit]).map(Self.stockRow)
        }
    }

    /// Every filter set walks the index `AuditQuery.indexName` names (a time window as a sequence range from
    /// `ledger_days`), in the read's one snapshot: see `AuditQueryPlan.swift`.
    public func auditLog(_ query: AuditQuery) async throws -> [Movement] {
        let timeout = statementTimeoutMillis
        return try await pool.read { db in
            var sequences: ClosedRange<Int64>?
            if let days = query.ledgerDays {
                guard days.first <= days.last,
                      let row = try Row.fetchOne(db, sql: AuditQuery.ledgerDaysSQL, arguments: [days.first, days.last]) else { return [] }
                let low: Int64? = row[0], high: Int64? = row[1]
                guard let low, let high else { return [] }  // no movement on any day of the window
                sequences = low...high
            }
            let sql = Self.auditSQL(query, sequences: sequences)
            let arguments = StatementArguments(query.parameters(sequences: sequences).map { parameter -> (any DatabaseValueConvertible)? in
                switch parameter {
                case .text(let text): text
                case .integer(let number): number
                }
            })
            return try SQLiteStatementTimeout.run(db, millis: timeout) { try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.movement(from:)) }
        }
    }

    /// The audit statement with SQLite's index clause (`NOT INDEXED`: the rowid, that is `seq`).
    static func auditSQL(_ query: AuditQuery, sequences: ClosedRange<Int64>?, columns: String = movementColumns) -> String {
        query.sql(selecting: columns, sequences: sequences) { index in index.map { "INDEXED BY \($0)" } ?? "NOT INDEXED" }
    }

    public func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.movementColumns) FROM stock_movements WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [afterSequence, limit]).map(Self.movement(from:))
        }
    }

    public func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64) {
        try await pool.read { db in
            // The pair's checkpoint (what archiving removed) plus the ledger after it, in one snapshot.
            let row = try Row.fetchOne(db, sql: Self.ledgerTotalsSQL, arguments: [storeID, productID, storeID, productID, storeID, productID])!
            return (row[0], row[1])
        }
    }

    /// Invariant 1 with archiving: the checkpoint (0 when none) plus the deltas and rows after it.
    static let ledgerTotalsSQL = """
        SELECT COALESCE(c.quantity, 0) + (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m
                WHERE m.store_id = ? AND m.product_id = ? AND m.seq > COALESCE(c.through_seq, 0)),
            COALESCE(c.row_count, 0) + (SELECT COUNT(*) FROM stock_movements m
                WHERE m.store_id = ? AND m.product_id = ? AND m.seq > COALESCE(c.through_seq, 0))
        FROM (SELECT 1) one LEFT JOIN ledger_checkpoints c ON c.store_id = ? AND c.product_id = ?
        """

    // MARK: Catalog

    public func upsertStore(_ store: Store) async throws -> Bool {
        try await pool.write { db in
            let existed = try Bool.fetchOne(db, sql: "SELECT 1 FROM stores WHERE id = ?", arguments: [store.id]) ?? false
            try db.execute(sql: """
                INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, attributes = excluded.attributes, updated_at_ms = excluded.updated_at_ms
                """, arguments: [store.id, store.name, store.attributesJSON, store.createdAtMillis, store.updatedAtMillis])
            return !existed
        }
    }

    public func store(id: String) async throws -> Store? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, name, attributes, created_at_ms, updated_at_ms FROM stores WHERE id = ?",
                             arguments: [id]).map(Self.store(from:))
        }
    }

    public func stores(afterID: String?, limit: Int) async throws -> [Store] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, attributes, created_at_ms, updated_at_ms FROM stores WHERE id > ? ORDER BY id LIMIT ?",
                             arguments: [afterID ?? "", limit]).map(Self.store(from:))
        }
    }

    public func upsertProduct(_ p: Product) async throws -> Bool {
        try await pool.write { db in
            let existed = try Bool.fetchOne(db, sql: "SELECT 1 FROM products WHERE id = ?", arguments: [p.id]) ?? false
            try db.execute(sql: """
                INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level,
                    created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, attributes = excluded.attributes,
                    lead_time_days = excluded.lead_time_days, review_period_days = excluded.review_period_days,
                    pack_size = excluded.pack_size, service_level = excluded.service_level, updated_at_ms = excluded.updated_at_ms
                """, arguments: [p.id, p.name, p.attributesJSON, p.leadTimeDays, p.reviewPeriodDays, p.packSize, p.serviceLevel,
                                 p.createdAtMillis, p.updatedAtMillis])
            return !existed
        }
    }

    public func product(id: String) async throws -> Product? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.productColumns) FROM products WHERE id = ?", arguments: [id]).map(Self.product(from:))
        }
    }

    public func products(afterID: String?, limit: Int) async throws -> [Product] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.productColumns) FROM products WHERE id > ? ORDER BY id LIMIT ?",
                             arguments: [afterID ?? "", limit]).map(Self.product(from:))
        }
    }

    public func allStoreIDs() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM stores") }
    }

    public func allProductIDs() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM products") }
    }

    // MARK: API keys

    public func insertAPIKey(_ r: APIKeyRecord) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO api_keys (id, name, role, stores, key_hash, created_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [r.id, r.name, r.role.rawValue, r.stores.joined(separator: ","), r.keyHash, r.createdAtMillis, r.revokedAtMillis])
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.apiKeyColumns) FROM api_keys WHERE key_hash = ?", arguments: [hash]).map(Self.apiKey(from:))
        }
    }

    public func apiKeys() async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.apiKeyColumns) FROM api_keys ORDER BY created_at_ms, id").map(Self.apiKey(from:))
        }
    }

    public func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL", arguments: [atMillis, id])
            return db.changesCount > 0
        }
    }

    public func hasActiveAdminKey() async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL LIMIT 1") ?? false
        }
    }

    // MARK: Outbox and housekeeping

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
    private func delete(_ sequences: [Int64], from table: String) async throws {
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

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Closes the database; later calls do nothing.
    public func close() async throws {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { try pool.close() }
    }

    // MARK: Row mapping

    static let movementColumns = """
        stock_movements.seq, movement_id, store_id, product_id, delta, quantity_before, quantity_after, version, reason, reference, \
        actor, at_ms, recorded_at_ms
        """
    static let productColumns = """
        id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms, updated_at_ms
        """
    static let apiKeyColumns = "id, name, role, stores, key_hash, created_at_ms, revoked_at_ms"

    static func movement(from row: Row) throws -> Movement {
        let reasonText: String = row[8]
        guard let reason = MovementReason(rawValue: reasonText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown reason \(reasonText) in ledger")
        }
        return Movement(
            sequence: row[0], movementID: row[1], storeID: row[2], productID: row[3], delta: row[4], quantityBefore: row[5],
            quantityAfter: row[6], version: row[7], reason: reason, reference: row[9], actor: row[10], atMillis: row[11],
            recordedAtMillis: row[12])
    }

    /// The columns of a stock row's level with its inventory states, in `level(_:at:)`'s order.
    static let levelColumns = "quantity, version, updated_at_ms, reserved, incoming, state_changes"

    static func level(_ row: Row, at i: Int) -> StockLevel {
        StockLevel(quantity: row[i], version: row[i + 1], updatedAtMillis: row[i + 2], reserved: row[i + 3], incoming: row[i + 4],
                   stateChanges: row[i + 5])
    }

    static func stockRow(_ row: Row) -> StockRow {
        StockRow(storeID: row[0], productID: row[1], level: level(row, at: 2))
    }

    static func store(from row: Row) -> Store {
        Store(id: row[0], name: row[1], attributesJSON: row[2], createdAtMillis: row[3], updatedAtMillis: row[4])
    }

    static func product(from row: Row) -> Product {
        Product(id: row[0], name: row[1], attributesJSON: row[2], leadTimeDays: row[3], reviewPeriodDays: row[4], packSize: row[5],
                serviceLevel: row[6], createdAtMillis: row[7], updatedAtMillis: row[8])
    }

    static func apiKey(from row: Row) -> APIKeyRecord {
        let stores: String = row[3]
        return APIKeyRecord(
            id: row[0], name: row[1], role: Role(rawValue: row[2]) ?? .reader,
            stores: stores.isEmpty ? [] : stores.split(separator: ",").map(String.init), keyHash: row[4],
            createdAtMillis: row[5], revokedAtMillis: row[6])
    }
}

// MARK: - Stock intelligence

extension SQLiteStockStore {
    public func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, topic, key, event_id, payload FROM event_outbox ORDER BY seq LIMIT ?", arguments: [limit])
                .map { OutboxEntry(sequence: $0[0], topic: $0[1], key: $0[2], eventID: $0[3], payload: $0[4]) }
        }
    }

    public func deleteEventOutbox(sequences: [Int64]) async throws {
        try await delete(sequences, from: "event_outbox")
    }

    public func movements(storeID: String, productID: String, sinceMillis: Int64) async throws -> [Movement] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.movementColumns) FROM stock_movements WHERE store_id = ? AND product_id = ? AND at_ms >= ? ORDER BY seq
                """, arguments: [storeID, productID, sinceMillis]).map(Self.movement(from:))
        }
    }

    /// The columns of `stock_thresholds` that `thresholds(from:at:)` reads, in its order (prefix them with `t.`).
    static let thresholdColumns = SharedSQL.thresholdColumns

    static func thresholds(from row: Row, at i: Int) -> StockThresholds {
        StockThresholds(dailyRate: row[i], reorderPoint: row[i + 1], orderUpTo: row[i + 2], leadTimeDays: row[i + 3], anomalyAbove: row[i + 4],
                        historyDays: row[i + 5], computedAtMillis: row[i + 6], model: row[i + 7], demandClass: row[i + 8],
                        censoredDays: row[i + 9], dispersion: row[i + 10], dailyLow: row[i + 11], dailyHigh: row[i + 12])
    }

    public func thresholds(storeID: String, productID: String) async throws -> StockThresholds? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT \(Self.thresholdColumns.joined(separator: ", ")) FROM stock_thresholds WHERE store_id = ? AND product_id = ?
                """, arguments: [storeID, productID]).map { Self.thresholds(from: $0, at: 0) }
        }
    }

    public func saveThresholds(_ t: StockThresholds, storeID: String, productID: String) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO stock_thresholds (store_id, product_id, \(Self.thresholdColumns.joined(separator: ", ")))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [storeID, productID, t.dailyRate, t.reorderPoint, t.orderUpTo, t.leadTimeDays, t.anomalyAbove, t.historyDays,
                                 t.computedAtMillis, t.model, t.demandClass, t.censoredDays, t.dispersion, t.dailyLow, t.dailyHigh])
        }
    }

    public func replenishmentItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [ReplenishmentItem] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: SharedSQL.replenishmentItems, arguments: [storeID, afterProductID ?? "", limit]).map { row in
                ReplenishmentItem(productID: row[0], onHand: row[1], thresholds: Self.thresholds(from: row, at: 4), packSize: row[2],
                                  position: row[3])
            }
        }
    }

    public func excessStock(productIDs: [String], excludingStoreID: String) async throws -> [ExcessStock] {
        let ids = ReplenishmentQuery.padded(productIDs)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT l.product_id, l.store_id, l.quantity - l.reserved, t.order_up_to
                FROM stock_levels l JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
                WHERE l.product_id IN (\(ReplenishmentQuery.placeholders)) AND l.store_id <> ? AND l.quantity - l.reserved > t.order_up_to
                ORDER BY l.product_id, l.store_id
                """, arguments: StatementArguments(ids + [excludingStoreID])).map { row in
                ExcessStock(productID: row[0], storeID: row[1], quantity: row[2], orderUpTo: row[3])
            }
        }
    }

    public func itemsWithoutThresholds(storeID: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM stock_levels l LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
                WHERE l.store_id = ? AND t.store_id IS NULL
                """, arguments: [storeID]) ?? 0
        }
    }

    public func replenishmentOverride(storeID: String, productID: String) async throws -> ReplenishmentOverride? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT lead_time_days, review_period_days, pack_size, service_level FROM replenishment_overrides
                WHERE store_id = ? AND product_id = ?
                """, arguments: [storeID, productID]).map {
                ReplenishmentOverride(leadTimeDays: $0[0], reviewPeriodDays: $0[1], packSize: $0[2], serviceLevel: $0[3])
            }
        }
    }

    public func saveReplenishmentOverride(_ o: ReplenishmentOverride, storeID: String, productID: String) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO replenishment_overrides (store_id, product_id, lead_time_days, review_period_days, pack_size, service_level)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [storeID, productID, o.leadTimeDays, o.reviewPeriodDays, o.packSize, o.serviceLevel])
            // The thresholds depend on these parameters: make them stale.
            try db.execute(sql: "UPDATE stock_thresholds SET computed_at_ms = 0 WHERE store_id = ? AND product_id = ?", arguments: [storeID, productID])
        }
    }

    public func activeAlerts(storeID: String, productID: String) async throws -> [Alert] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.alertColumns) FROM alerts WHERE store_id = ? AND product_id = ? AND status != 'resolved'",
                             arguments: [storeID, productID]).map(Self.alert(from:))
        }
    }

    public func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert] {
        try await pool.write { db in
            var recorded: [Alert] = []
            for var alert in inserted {
                try db.execute(sql: """
                    INSERT OR IGNORE INTO alerts (id, kind, status, store_id, product_id, quantity, threshold, message, opened_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [alert.id, alert.kind.rawValue, alert.status.rawValue, alert.storeID, alert.productID, alert.quantity,
                                     alert.threshold, alert.message, alert.openedAtMillis])
                guard db.changesCount > 0 else { continue }  // the condition already has an active alert
                alert.sequence = db.lastInsertedRowID
                recorded.append(alert)
            }
            for alert in changed {
                try db.execute(sql: """
                    UPDATE alerts SET status = ?, quantity = ?, message = ?, acknowledged_at_ms = ?, acknowledged_by = ?, resolved_at_ms = ?
                    WHERE id = ? AND status != 'resolved'
                    """, arguments: [alert.status.rawValue, alert.quantity, alert.message, alert.acknowledgedAtMillis, alert.acknowledgedBy,
                                     alert.resolvedAtMillis, alert.id])
                if db.changesCount > 0 { recorded.append(alert) }
            }
            for alert in recorded {
                try db.execute(sql: "INSERT INTO event_outbox (topic, key, event_id, payload) VALUES (?, ?, ?, ?)",
                               arguments: [AlertEvent.topic, alert.storeID, "\(alert.id):\(alert.status.rawValue)", alert.cloudEventJSON])
            }
            return recorded
        }
    }

    public func alert(id: String) async throws -> Alert? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.alertColumns) FROM alerts WHERE id = ?", arguments: [id]).map(Self.alert(from:))
        }
    }

    public func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?, limit: Int) async throws -> [Alert] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        for (condition, value) in [("store_id = ?", storeID), ("product_id = ?", productID), ("kind = ?", kind?.rawValue), ("status = ?", status?.rawValue)] {
            if let value { conditions.append(condition); arguments.append(value) }
        }
        if let beforeSequence { conditions.append("seq < ?"); arguments.append(beforeSequence) }
        arguments.append(limit)
        let sql = "SELECT \(Self.alertColumns) FROM alerts" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY seq DESC LIMIT ?"  // bound, not written in: one statement text per filter combination
        let statementArguments = StatementArguments(arguments)
        return try await pool.read { db in try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(Self.alert(from:)) }
    }

    static let alertColumns = """
        seq, id, kind, status, store_id, product_id, quantity, threshold, message, opened_at_ms, acknowledged_at_ms, acknowledged_by, resolved_at_ms
        """

    static func alert(from row: Row) throws -> Alert {
        guard let kind = AlertKind(rawValue: row[2]), let status = AlertStatus(rawValue: row[3]) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown alert kind or status")
        }
        return Alert(sequence: row[0], id: row[1], kind: kind, status: status, storeID: row[4], productID: row[5], quantity: row[6],
                     threshold: row[7], message: row[8], openedAtMillis: row[9], acknowledgedAtMillis: row[10], acknowledgedBy: row[11],
                     resolvedAtMillis: row[12])
    }
}

// MARK: - Webhooks

extension SQLiteStockStore {
    public func insertWebhook(_ w: Webhook) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO webhooks (id, url, secret, stores, created_at_ms) VALUES (?, ?, ?, ?, ?)",
                           arguments: [w.id, w.url, w.secret, w.stores.joined(separator: ","), w.createdAtMillis])
        }
    }

    public func webhooks() async throws -> [Webhook] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, url, secret, stores, created_at_ms FROM webhooks WHERE deleted_at_ms IS NULL ORDER BY created_at_ms, id")
                .map { row in
                    let stores: String = row[3]
                    return Webhook(id: row[0], url: row[1], secret: row[2], stores: stores.isEmpty ? [] : stores.split(separator: ",").map(String.init),
                                   createdAtMillis: row[4])
                }
        }
    }

    public func deleteWebhook(id: String, atMillis: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE webhooks SET deleted_at_ms = ? WHERE id = ? AND deleted_at_ms IS NULL", arguments: [atMillis, id])
            let deleted = db.changesCount > 0
            try db.execute(sql: "UPDATE webhook_deliveries SET state = '\(WebhookDeliveryState.cancelled.rawValue)' WHERE webhook_id = ? AND state = '\(WebhookDeliveryState.pending.rawValue)'", arguments: [id])
            return deleted
        }
    }

    public func enqueueDeliveries(webhookIDs: [String], eventID: String, payload: String, atMillis: Int64) async throws {
        guard !webhookIDs.isEmpty else { return }
        try await pool.write { db in
            for id in webhookIDs {
                try db.execute(sql: """
                    INSERT OR IGNORE INTO webhook_deliveries (webhook_id, event_id, payload, next_attempt_at_ms) VALUES (?, ?, ?, ?)
                    """, arguments: [id, eventID, payload, atMillis])
            }
        }
    }

    public func dueDeliveries(atMillis: Int64, limit: Int) async throws -> [WebhookDelivery] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT d.seq, d.webhook_id, w.url, w.secret, d.event_id, d.payload, d.attempts FROM webhook_deliveries d
                JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.state = '\(WebhookDeliveryState.pending.rawValue)' AND d.next_attempt_at_ms <= ? ORDER BY d.next_attempt_at_ms, d.seq LIMIT ?
                """, arguments: [atMillis, limit]).map {
                WebhookDelivery(sequence: $0[0], webhookID: $0[1], url: $0[2], secret: $0[3], eventID: $0[4], payload: $0[5], attempts: $0[6])
            }
        }
    }

    public func recordAttempt(_ d: WebhookDelivery, atMillis: Int64, statusCode: Int?, error: String?, delivered: Bool,
                              nextAttemptAtMillis: Int64?) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO webhook_attempts (delivery_seq, webhook_id, event_id, attempt, at_ms, status_code, error) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [d.sequence, d.webhookID, d.eventID, d.attempts + 1, atMillis, statusCode, error])
            let state = WebhookDeliveryState.after(delivered: delivered, nextAttemptAtMillis: nextAttemptAtMillis).rawValue
            try db.execute(sql: "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, next_attempt_at_ms = ? WHERE seq = ?",
                           arguments: [state, nextAttemptAtMillis ?? atMillis, d.sequence])
        }
    }

    public func webhookAttempts(webhookID: String, limit: Int) async throws -> [WebhookAttempt] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT event_id, attempt, at_ms, status_code, error FROM webhook_attempts WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?
                """, arguments: [webhookID, limit]).map {
                WebhookAttempt(eventID: $0[0], attempt: $0[1], atMillis: $0[2], statusCode: $0[3], error: $0[4])
            }
        }
    }
}
