public import BazaarCore
public import BazaarDomain
public import MySQLClient

/// Daily demand per store x product (issue 14), kept in the transaction of every ledger write, and what the
/// intelligence's recompute pass reads and leases. A pair's latest day is on its stock row, the days before in
/// `stock_demand_daily` (`MySQLLedgerTransaction.carriedDemand`); every read merges the two.
extension MySQLStockStore: DemandStore, IntelligencePassStore {
    /// Adds days of demand (rollups of committed movements, `DemandDays`) to `stock_demand_daily`, inside the caller's
    /// transaction (which holds their stock rows' locks): rows in key order, in statements of 400 rows. A row already
    /// there merges (`DemandDay.merged`: these rows are later in ledger order).
    static func upsertDemand(_ rows: [DemandDay], into connection: some LedgerStatements, nowMillis: Int64) throws {
        for start in stride(from: 0, to: rows.count, by: 400) {
            var values = connection.valueRows(reservingBytes: min(400, rows.count - start) * 70)
            for row in rows[start..<min(start + 400, rows.count)] {
                try values.append(.text(row.storeID), .text(row.productID), .int(row.day), .int(row.sold), .int(row.returned),
                                  .int(row.inStock ? 1 : 0), .int(row.closing), .int(nowMillis))
            }
            try connection.write("""
                INSERT INTO stock_demand_daily (store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms)
                VALUES \(values.text)
                ON DUPLICATE KEY UPDATE sold = sold + VALUES(sold), returned = returned + VALUES(returned),
                    in_stock = GREATEST(in_stock, VALUES(in_stock)), closing = VALUES(closing), updated_at_ms = VALUES(updated_at_ms)
                """)
        }
    }

    static let demandColumns = SharedSQL.demandColumns

    static func demandDay(_ row: MySQLRow) throws -> DemandDay {
        DemandDay(storeID: try row.string(0), productID: try row.string(1), day: try row.int(2), sold: try row.int(3), returned: try row.int(4),
                  inStock: try row.int(5) != 0, closing: try row.int(6))
    }

    /// One store's days of demand (of some products, `productCondition` on `product_id` with its `?`s, or all)
    /// from both places, in one statement, so in one snapshot (two would miss a day that moved from the stock row to
    /// the table between them), unsorted: `DemandDays.merging` groups them in memory (a union sorted by the server
    /// took ~60% longer for a store of 1,000 products than the table's read alone).
    static func storeDemandDays(_ connection: MySQLConnection, storeID: String, productCondition: String?, products: [any MySQLBindable],
                                sinceDay: Int64) throws -> [DemandDay] {
        let filter = productCondition.map { " AND product_id \($0)" } ?? ""
        let parameters = [storeID as any MySQLBindable] + products + [sinceDay]
        var table: [DemandDay] = [], latest: [DemandDay] = []
        for row in try connection.select("""
            SELECT \(demandColumns), 0 FROM stock_demand_daily WHERE store_id = ?\(filter) AND day >= ?
            UNION ALL
            SELECT store_id, product_id, \(MySQLLedgerTransaction.demandColumns), 1 FROM stock_levels WHERE store_id = ?\(filter) AND demand_day >= ?
            """, parameters + parameters) {
            if try row.int(7) == 0 { table.append(try demandDay(row)) } else { latest.append(try demandDay(row)) }
        }
        return DemandDays.merging(table: table, latest: latest)
    }

    /// Rebuilds the daily demand rows from the ledger for the days from `sinceDay` on, a batch of `storesPerBatch`
    /// stores a transaction, resuming where an interrupted run stopped (`demand_backfill`). Run by `migrate` until
    /// done. A batch first locks its stores' stock rows, so a write to them waits for it (and is then added on top
    /// of the rebuilt rows) instead of being counted twice or lost; a pair written for the first time meanwhile
    /// makes the batch run again. Every day goes to `stock_demand_daily`: the stock rows count their latest day
    /// afresh from their next write.
    public func backfillDemand(sinceDay: Int64? = nil, storesPerBatch: Int = 50, restart: Bool = false) async throws {
        let since = sinceDay ?? (RFC3339.epochDay(millis: clock.nowMillis()) - IntelligenceService.historyDays - 1)
        if restart {
            _ = try await onPrimary { try $0.execute("UPDATE demand_backfill SET after_store_id = '', done = 0 WHERE id = 1") }
        }
        var raced = 0
        while true {
            let finished: Bool
            do {
                finished = try await backfillDemandBatch(sinceDay: since, storesPerBatch: storesPerBatch)
                raced = 0
            } catch is DemandRebuildRaced {
                raced += 1
                guard raced < 50 else {
                    throw StorageUnavailable("the demand rebuild met a first write of a new pair in 50 attempts of one batch: run it again when fewer new pairs are written")
                }
                try await Task.sleep(for: .milliseconds(10 * raced))
                continue
            }
            if finished { return }
        }
    }

    /// A pair's first write, elsewhere, committed while a batch of the rebuild ran (`backfillDemandBatch`).
    struct DemandRebuildRaced: Error {}

    /// `body`, with a duplicate key taken for the race `DemandRebuildRaced` names: a first write's backdated day that
    /// reached `stock_demand_daily` after the batch's `DELETE`.
    private static func raceAsRebuildRaced<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as MySQLError where error.code == MySQLError.duplicateKey { throw DemandRebuildRaced() }
    }

    /// One batch of `backfillDemand`: true when there is nothing left.
    private func backfillDemandBatch(sinceDay since: Int64, storesPerBatch: Int) async throws -> Bool {
        let now = clock.nowMillis()
        return try await onPrimary { connection -> Bool in
            try connection.transaction { connection in
                guard let row = try connection.select("SELECT after_store_id, done FROM demand_backfill WHERE id = 1 FOR UPDATE").first,
                      try row.int(1) == 0 else { return true }
                let stores = try connection.select("""
                    SELECT DISTINCT store_id FROM stock_movements WHERE store_id > ? ORDER BY store_id LIMIT ?
                    """, [try row.string(0), storesPerBatch]).map { try $0.string(0) }
                guard let last = stores.last else {
                    _ = try connection.execute("UPDATE demand_backfill SET done = 1 WHERE id = 1")
                    return true
                }
                let list = try stores.map { try connection.literal(.text($0)) }.joined(separator: ",")
                let locked = try connection.query("SELECT 1 FROM stock_levels WHERE store_id IN (\(list)) ORDER BY store_id, product_id FOR UPDATE").count
                _ = try connection.run("DELETE FROM stock_demand_daily WHERE store_id IN (\(list))")
                _ = try connection.run("UPDATE stock_levels SET demand_day = NULL WHERE store_id IN (\(list)) AND demand_day IS NOT NULL")
                _ = try Self.raceAsRebuildRaced { try connection.run("""
                    INSERT INTO stock_demand_daily (store_id, product_id, day, sold, returned, in_stock, closing, updated_at_ms)
                    SELECT g.store_id, g.product_id, g.day, g.sold, g.returned, g.in_stock, m.quantity_after, \(now)
                    FROM (SELECT store_id, product_id, at_ms DIV 86400000 AS day,
                              SUM(CASE WHEN reason = 'sale' THEN -delta ELSE 0 END) AS sold,
                              SUM(CASE WHEN reason = 'return' THEN delta ELSE 0 END) AS returned,
                              MAX(quantity_before > 0 OR quantity_after > 0) AS in_stock, MAX(seq) AS last_seq
                          FROM stock_movements WHERE store_id IN (\(list)) AND at_ms >= \(since * 86_400_000)
                          GROUP BY store_id, product_id, at_ms DIV 86400000) g
                    JOIN stock_movements m ON m.seq = g.last_seq
                    """) }
                // The lock holds the rows there were; at READ COMMITTED nothing holds back a new pair's first write.
                // One that committed meanwhile may be in the rebuilt rows and on its stock row both: run the batch
                // again (a stock row is never deleted, so the same count is the same rows).
                let rows = try connection.select("SELECT COUNT(*) FROM stock_levels WHERE store_id IN (\(list))")[0].int(0)
                guard rows == locked else { throw DemandRebuildRaced() }
                _ = try connection.execute("UPDATE demand_backfill SET after_store_id = ? WHERE id = 1", [last])
                return false
            }
        }
    }

    // MARK: DemandStore (on the primary: the pass decides from what was just written)

    public func demandDays(storeID: String, productID: String, sinceDay: Int64) async throws -> [DemandDay] {
        try await onPrimary { connection in
            try Self.storeDemandDays(connection, storeID: storeID, productCondition: "= ?", products: [productID], sinceDay: sinceDay)
        }
    }

    public func demandDays(storeID: String, productIDs: [String]?, sinceDay: Int64) async throws -> [DemandDay] {
        try await onPrimary { connection in
            guard let productIDs else {
                return try Self.storeDemandDays(connection, storeID: storeID, productCondition: nil, products: [], sinceDay: sinceDay)
            }
            // One statement text whatever the list (padded chunks): alert evaluation reads a batch's new pairs here.
            return try ReplenishmentQuery.paddedChunks(productIDs).flatMap { list in
                try Self.storeDemandDays(connection, storeID: storeID, productCondition: "IN (\(ReplenishmentQuery.placeholders))",
                                         products: list, sinceDay: sinceDay)
            }
        }
    }

    /// A dashboard read: on a replica. Each place summed per store and day first (on the table, along its covering
    /// index), then the two: a union of the rows themselves, grouped after, went through a temporary table and took
    /// 2.0-3.1 s where this takes 0.56 s (50 stores of 1,000 products, 28 days; the table alone 0.54 s).
    public func storeDemandTrend(storeIDs: [String], sinceDay: Int64) async throws -> [StoreDemandPoint] {
        guard !storeIDs.isEmpty else { return [] }
        return try await onReplica { connection in
            let list = try storeIDs.map { try connection.literal(.text($0)) }.joined(separator: ",")
            return try connection.select("""
                SELECT store_id, day, CAST(SUM(units) AS SIGNED) FROM (
                    SELECT store_id, day, SUM(sold - returned) AS units FROM stock_demand_daily
                    WHERE store_id IN (\(list)) AND day >= ? GROUP BY store_id, day
                    UNION ALL
                    SELECT store_id, demand_day, SUM(demand_sold - demand_returned) FROM stock_levels
                    WHERE store_id IN (\(list)) AND demand_day >= ? GROUP BY store_id, demand_day
                ) d GROUP BY store_id, day ORDER BY store_id, day
                """, [sinceDay, sinceDay]).map { StoreDemandPoint(storeID: try $0.string(0), day: try $0.int(1), units: try $0.int(2)) }
        }
    }

    // MARK: IntelligencePassStore

    public func passStoreIDs(afterStoreID: String?, limit: Int) async throws -> [String] {
        try await onPrimary { connection in
            try connection.select("SELECT DISTINCT store_id FROM stock_levels WHERE store_id > ? ORDER BY store_id LIMIT ?",
                                  [afterStoreID ?? "", limit]).map { try $0.string(0) }
        }
    }

    public func recomputeCandidates(storeID: String) async throws -> [RecomputeCandidate] {
        try await onPrimary { connection in
            try connection.select(SharedSQL.recomputeCandidates, [storeID]).map(Self.recomputeCandidate)
        }
    }

    /// A row of `SharedSQL.recomputeCandidates`.
    static func recomputeCandidate(_ row: MySQLRow) throws -> RecomputeCandidate {
        RecomputeCandidate(productID: try row.string(0), computedAtMillis: try row.optionalInt(1), levelUpdatedAtMillis: try row.int(2),
                           productUpdatedAtMillis: try row.optionalInt(3), leadTimeDays: try row.optionalInt(4).map(Int.init),
                           reviewPeriodDays: try row.optionalInt(5).map(Int.init), packSize: try row.optionalInt(6).map(Int.init),
                           serviceLevel: try row.optionalDouble(7), fillRate: try row.optionalDouble(8),
                           sizedForTarget: StockThresholds.target(serviceLevel: try row.optionalDouble(9), fillRate: try row.optionalDouble(10)),
                           sizedForLeadTimeDays: try row.optionalInt(11).map(Int.init),
                           sizedForReviewPeriodDays: try row.optionalInt(12).map(Int.init))
    }

    public func saveThresholds(_ rows: [(productID: String, thresholds: StockThresholds, expectedComputedAt: Int64?)],
                               storeID: String) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try await writeOnPrimary { connection in
            // Rows expected absent are inserted where still absent (a row inserted meanwhile stays, which a locking
            // read cannot promise at READ COMMITTED, with no gap locks; not INSERT IGNORE, which would also turn a
            // strict-mode error into a warning and a coerced row): an existing row counts 0 changed rows, a new one 1.
            // Rows expected present are locked until the commit, only those (a one-row write must not queue behind a
            // pass over the store), and replaced where unchanged.
            let width = Self.thresholdRowsPerStatement
            let absent = rows.filter { $0.expectedComputedAt == nil }
            var inserted = 0
            for start in stride(from: 0, to: absent.count, by: width) {
                let values = try absent[start..<min(start + width, absent.count)].map { try Self.thresholdsValues(storeID, $0.productID, $0.thresholds, connection) }
                inserted += Int(try connection.run("""
                    INSERT INTO stock_thresholds (store_id, product_id, \(Self.thresholdColumns.joined(separator: ", "))) VALUES \(values.joined(separator: ","))
                    ON DUPLICATE KEY UPDATE product_id = product_id
                    """).affectedRows)
            }
            let present = rows.filter { $0.expectedComputedAt != nil }
            guard !present.isEmpty else { return inserted }
            var stored: [String: Int64] = [:]
            // Literals, not parameters: one prepared text per list length would churn the statement cache.
            let only = present.count <= width
                ? " AND product_id IN (" + (try present.map { try connection.literal(.text($0.productID)) }.joined(separator: ",")) + ")" : ""
            for row in try connection.run("""
                SELECT product_id, computed_at_ms FROM stock_thresholds WHERE store_id = \(try connection.literal(.text(storeID)))\(only) FOR UPDATE
                """).rows {
                stored[try row.string(0)] = try row.int(1)
            }
            let kept = present.filter { stored[$0.productID] == $0.expectedComputedAt }
            for start in stride(from: 0, to: kept.count, by: width) {
                let values = try kept[start..<min(start + width, kept.count)].map { try Self.thresholdsValues(storeID, $0.productID, $0.thresholds, connection) }
                _ = try connection.run("""
                    REPLACE INTO stock_thresholds (store_id, product_id, \(Self.thresholdColumns.joined(separator: ", "))) VALUES \(values.joined(separator: ","))
                    """)
            }
            return inserted + kept.count
        }
    }

    /// Rows a statement of `saveThresholds` names at most (a multi-row insert or replace, a locking read's list).
    static let thresholdRowsPerStatement = 400

    /// One row of `stock_thresholds` as an SQL tuple of literals, in `thresholdColumns` order after the key.
    static func thresholdsValues(_ storeID: String, _ productID: String, _ t: StockThresholds, _ connection: MySQLConnection) throws -> String {
        let fields: [MySQLValue] = [
            .text(storeID), .text(productID), .double(t.dailyRate), .double(t.reorderPoint), .double(t.orderUpTo),
            .int(Int64(t.leadTimeDays)), .double(t.anomalyAbove), .int(Int64(t.historyDays)), .int(t.computedAtMillis),
            t.model.map(MySQLValue.text) ?? .null, t.demandClass.map(MySQLValue.text) ?? .null, .int(Int64(t.censoredDays)),
            t.dispersion.map(MySQLValue.double) ?? .null, t.dailyLow.map(MySQLValue.double) ?? .null, t.dailyHigh.map(MySQLValue.double) ?? .null,
            t.targetColumns.serviceLevel.map(MySQLValue.double) ?? .null, t.targetColumns.fillRate.map(MySQLValue.double) ?? .null,
            t.lowStockLevel.map(MySQLValue.double) ?? .null, t.reviewPeriodDays.map { MySQLValue.int(Int64($0)) } ?? .null,
        ]
        return try "(" + fields.map(connection.literal).joined(separator: ",") + ")"
    }

    public func claimPass(storeID: String, holder: String, nowMillis: Int64, leaseMillis: Int64) async throws -> Bool {
        // Two statements, each its own transaction: in one, two nodes' INSERT IGNOREs would both hold the row's shared
        // lock and deadlock on the UPDATE's exclusive one.
        try await onPrimary { connection in
            _ = try connection.execute("INSERT IGNORE INTO intelligence_pass (store_id, holder, lease_until_ms, passed_at_ms) VALUES (?, '', 0, 0)", [storeID])
            // The lease's end always moves forward (milliseconds), so a taken lease is one changed row.
            return try connection.execute("""
                UPDATE intelligence_pass SET holder = ?, lease_until_ms = ? WHERE store_id = ? AND (lease_until_ms <= ? OR holder = ?)
                """, [holder, nowMillis + leaseMillis, storeID, nowMillis, holder]).affectedRows == 1
        }
    }

    public func finishPass(storeID: String, holder: String, nowMillis: Int64) async throws {
        _ = try await onPrimary { connection in
            try connection.execute("UPDATE intelligence_pass SET lease_until_ms = 0, passed_at_ms = ? WHERE store_id = ? AND holder = ?",
                                   [nowMillis, storeID, holder])
        }
    }

    public func oldestThresholdMillis() async throws -> Int64? {
        try await onPrimary { connection in try connection.select("SELECT MIN(computed_at_ms) FROM stock_thresholds WHERE computed_at_ms > 0").first?.optionalInt(0) }
    }
}
