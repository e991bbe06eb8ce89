public import BazaarCore
public import BazaarDomain
import GRDB

/// Daily demand per store x product (issue 14), kept in the transaction of every ledger write, and what the
/// intelligence's recompute pass reads and leases.
extension SQLiteStockStore: DemandStore, IntelligencePassStore {
    /// Adds committed movements (ledger order, none replayed) to `stock_demand_daily`, inside the writer's
    /// transaction: one upsert per store x product x day of the batch, not per movement.
    static func recordDemand(_ movements: [Movement], db: Database, nowMillis: Int64) throws {
        guard !movements.isEmpty else { return }
        let statement = try db.cachedStatement(sql: upsertDemand)
        for row in DemandDays.rollup(movements) {
            try statement.execute(arguments: [row.storeID, row.productID, row.day, row.sold, row.returned, row.inStock ? 1 : 0, row.closing, nowMillis])
        }
    }

    /// Adds one store x product x day of demand to its row (created, or merged: sales and returns add up,
    /// availability ORs, the closing level is the later one): `DemandDay.merged(with:)` in SQL.
    static let upsertDemand = """
        INSERT INTO stock_demand_daily (store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) \(mergeDemand)
        """

    /// The merge of `upsertDemand` (and of a load's staged rows, `SQLiteStagedDemand.fold`).
    static let mergeDemand = """
        ON CONFLICT (store_id, product_id, day) DO UPDATE SET sold = sold + excluded.sold, returned = returned + excluded.returned,
            in_stock = max(in_stock, excluded.in_stock), closing = excluded.closing, updated_at_ms = excluded.updated_at_ms
        """

    static let demandColumns = SharedSQL.demandColumns

    static func demandDay(_ row: Row) -> DemandDay {
        DemandDay(storeID: row[0], productID: row[1], day: row[2], sold: row[3], returned: row[4], inStock: (row[5] as Int64) != 0, closing: row[6])
    }

    /// The rows of a `demandColumns` statement, read off the statement as it steps (a cursor) rather than copied
    /// into `Row`s first (`fetchAll`): a copied row decodes each value through GRDB's generic `DatabaseValue` path,
    /// which cost more than the query itself once the pass read a year of rows per item (issue 16: 2,449 pairs/s
    /// against 4,759 before on a 365-day demo, `bazaar intelligence recompute --all`; BENCHMARKS.md).
    static func demandDays(_ statement: Statement, arguments: StatementArguments) throws -> [DemandDay] {
        var days: [DemandDay] = []
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try cursor.next() { days.append(demandDay(row)) }
        return days
    }

    /// Rebuilds the daily demand rows from the ledger for the days from `sinceDay` on, a batch of `storesPerBatch`
    /// stores a transaction, resuming where an interrupted run stopped (`demand_backfill`). Run by `migrate` until
    /// done, so that a database upgraded from before the table existed is exact; each batch replaces the rows of
    /// its stores, so it is also exact for rows written while it runs.
    public func backfillDemand(sinceDay: Int64? = nil, storesPerBatch: Int = 50, restart: Bool = false) async throws {
        let since = sinceDay ?? (RFC3339.epochDay(millis: clock.nowMillis()) - IntelligenceService.historyDays - 1)
        if restart {
            try await pool.write { db in try db.execute(sql: "UPDATE demand_backfill SET after_store_id = '', done = 0 WHERE id = 1") }
        }
        while true {
            let finished = try await pool.write { db -> Bool in
                guard let row = try Row.fetchOne(db, sql: "SELECT after_store_id, done FROM demand_backfill WHERE id = 1"),
                      (row[1] as Int64) == 0 else { return true }
                let after: String = row[0]
                let stores = try String.fetchAll(db, sql: """
                    SELECT DISTINCT store_id FROM stock_movements WHERE store_id > ? ORDER BY store_id LIMIT ?
                    """, arguments: [after, storesPerBatch])
                guard let last = stores.last else {
                    try db.execute(sql: "UPDATE demand_backfill SET done = 1 WHERE id = 1")
                    return true
                }
                let marks = stores.map { _ in "?" }.joined(separator: ",")
                try db.execute(sql: "DELETE FROM stock_demand_daily WHERE store_id IN (\(marks))", arguments: StatementArguments(stores))
                try db.execute(sql: """
                    INSERT INTO stock_demand_daily (store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms)
                    SELECT g.store_id, g.product_id, g.day, g.sold, g.returned, g.in_stock, m.quantity_after, ?
                    FROM (SELECT store_id, product_id, at_ms / 86400000 AS day,
                              SUM(CASE WHEN reason = 'sale' THEN -delta ELSE 0 END) AS sold,
                              SUM(CASE WHEN reason = 'return' THEN delta ELSE 0 END) AS returned,
                              MAX(quantity_before > 0 OR quantity_after > 0) AS in_stock, MAX(seq) AS last_seq
                          FROM stock_movements WHERE store_id IN (\(marks)) AND at_ms >= ?
                          GROUP BY store_id, product_id, at_ms / 86400000) g
                    JOIN stock_movements m ON m.seq = g.last_seq
                    """, arguments: StatementArguments([self.clock.nowMillis()] as [any DatabaseValueConvertible] + stores + [since * 86_400_000]))
                try db.execute(sql: "UPDATE demand_backfill SET after_store_id = ? WHERE id = 1", arguments: [last])
                return false
            }
            if finished { return }
        }
    }

    // MARK: DemandStore

    public func demandDays(storeID: String, productID: String, sinceDay: Int64) async throws -> [DemandDay] {
        try await pool.read { db in
            try Self.demandDays(db.cachedStatement(sql: """
                SELECT \(Self.demandColumns) FROM stock_demand_daily WHERE store_id = ? AND product_id = ? AND day >= ? ORDER BY day
                """), arguments: [storeID, productID, sinceDay])
        }
    }

    public func demandDays(storeID: String, productIDs: [String]?, sinceDay: Int64) async throws -> [DemandDay] {
        try await pool.read { db in
            guard let productIDs else {
                return try Self.demandDays(db.cachedStatement(sql: """
                    SELECT \(Self.demandColumns) FROM stock_demand_daily WHERE store_id = ? AND day >= ? ORDER BY product_id, day
                    """), arguments: [storeID, sinceDay])
            }
            let statement = try db.cachedStatement(sql: """
                SELECT \(Self.demandColumns) FROM stock_demand_daily
                WHERE store_id = ? AND product_id IN (\(ReplenishmentQuery.placeholders)) AND day >= ? ORDER BY product_id, day
                """)
            return try ReplenishmentQuery.paddedChunks(productIDs).flatMap { list in
                try Self.demandDays(statement, arguments: StatementArguments([storeID] + list) + [sinceDay])
            }
        }
    }

    public func storeDemandTrend(storeIDs: [String], sinceDay: Int64) async throws -> [StoreDemandPoint] {
        guard !storeIDs.isEmpty else { return [] }
        return try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT store_id, day, SUM(sold - returned) FROM stock_demand_daily
                WHERE store_id IN (\(storeIDs.map { _ in "?" }.joined(separator: ","))) AND day >= ? GROUP BY store_id, day ORDER BY store_id, day
                """, arguments: StatementArguments(storeIDs) + [sinceDay]).map { StoreDemandPoint(storeID: $0[0], day: $0[1], units: $0[2]) }
        }
    }

    // MARK: IntelligencePassStore

    public func passStoreIDs(afterStoreID: String?, limit: Int) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT store_id FROM stock_levels WHERE store_id > ? ORDER BY store_id LIMIT ?"),
                                arguments: [afterStoreID ?? "", limit])
        }
    }

    public func recomputeCandidates(storeID: String) async throws -> [RecomputeCandidate] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: SharedSQL.recomputeCandidates), arguments: [storeID]).map(Self.recomputeCandidate)
        }
    }

    /// A row of `SharedSQL.recomputeCandidates`.
    static func recomputeCandidate(_ row: Row) -> RecomputeCandidate {
        RecomputeCandidate(productID: row[0], computedAtMillis: row[1], levelUpdatedAtMillis: row[2], productUpdatedAtMillis: row[3],
                           leadTimeDays: row[4], reviewPeriodDays: row[5], packSize: row[6], serviceLevel: row[7],
                           fillRate: row[8], sizedForTarget: StockThresholds.target(serviceLevel: row[9], fillRate: row[10]),
                           sizedForLeadTimeDays: row[11], sizedForReviewPeriodDays: row[12])
    }

    public func saveThresholds(_ rows: [(productID: String, thresholds: StockThresholds, expectedComputedAt: Int64?)],
                               storeID: String) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try await pool.write { db in
            // The single writer: what is read here is what the write replaces. Only the rows written, for a few (a
            // movement's first evaluation, a settings PUT): the whole store's in the writer, per new item, was
            // quadratic in the store's items and held the ledger's commits.
            var stored: [String: Int64] = [:]
            let few = rows.count <= 400
            let sql = few
                ? "SELECT product_id, computed_at_ms FROM stock_thresholds WHERE store_id = ? AND product_id IN (\(Array(repeating: "?", count: rows.count).joined(separator: ",")))"
                : "SELECT product_id, computed_at_ms FROM stock_thresholds WHERE store_id = ?"
            let arguments = StatementArguments([storeID] + (few ? rows.map(\.productID) : []))
            for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                stored[row[0]] = row[1]
            }
            let statement = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO stock_thresholds (store_id, product_id, \(Self.thresholdColumns.joined(separator: ", ")))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var written = 0
            for (productID, t, expected) in rows where stored[productID] == expected {
                try statement.execute(arguments: [storeID, productID, t.dailyRate, t.reorderPoint, t.orderUpTo, t.leadTimeDays, t.anomalyAbove,
                                                  t.historyDays, t.computedAtMillis, t.model, t.demandClass, t.censoredDays, t.dispersion,
                                                  t.dailyLow, t.dailyHigh, t.targetColumns.serviceLevel, t.targetColumns.fillRate, t.lowStockLevel,
                                                  t.reviewPeriodDays])
                written += 1
            }
            return written
        }
    }

    public func claimPass(storeID: String, holder: String, nowMillis: Int64, leaseMillis: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO intelligence_pass (store_id, holder, lease_until_ms, passed_at_ms) VALUES (?, ?, ?, 0)
                ON CONFLICT (store_id) DO UPDATE SET holder = excluded.holder, lease_until_ms = excluded.lease_until_ms
                WHERE intelligence_pass.lease_until_ms <= ? OR intelligence_pass.holder = excluded.holder
                """, arguments: [storeID, holder, nowMillis + leaseMillis, nowMillis])
            return db.changesCount == 1
        }
    }

    public func finishPass(storeID: String, holder: String, nowMillis: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE intelligence_pass SET lease_until_ms = 0, passed_at_ms = ? WHERE store_id = ? AND holder = ?",
                           arguments: [nowMillis, storeID, holder])
        }
    }

    public func oldestThresholdMillis() async throws -> Int64? {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT MIN(computed_at_ms) FROM stock_thresholds WHERE computed_at_ms > 0") }
    }
}
