public import BazaarCore
public import BazaarDomain
import GRDB

/// `IntelligenceStore` and `AlertStore`: thresholds, overrides, replenishment reads, alerts and their events.
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
                        censoredDays: row[i + 9], dispersion: row[i + 10], dailyLow: row[i + 11], dailyHigh: row[i + 12],
                        target: StockThresholds.target(serviceLevel: row[i + 13], fillRate: row[i + 14]), lowStockLevel: row[i + 15],
                        reviewPeriodDays: row[i + 16])
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
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [storeID, productID, t.dailyRate, t.reorderPoint, t.orderUpTo, t.leadTimeDays, t.anomalyAbove, t.historyDays,
                                 t.computedAtMillis, t.model, t.demandClass, t.censoredDays, t.dispersion, t.dailyLow, t.dailyHigh,
                                 t.targetColumns.serviceLevel, t.targetColumns.fillRate, t.lowStockLevel, t.reviewPeriodDays])
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
                SELECT lead_time_days, review_period_days, pack_size, service_level, fill_rate FROM replenishment_overrides
                WHERE store_id = ? AND product_id = ?
                """, arguments: [storeID, productID]).map {
                ReplenishmentOverride(leadTimeDays: $0[0], reviewPeriodDays: $0[1], packSize: $0[2], serviceLevel: $0[3], fillRate: $0[4])
            }
        }
    }

    public func saveReplenishmentOverride(_ o: ReplenishmentOverride, storeID: String, productID: String, dueMarker: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO replenishment_overrides (store_id, product_id, lead_time_days, review_period_days, pack_size, service_level,
                    fill_rate) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [storeID, productID, o.leadTimeDays, o.reviewPeriodDays, o.packSize, o.serviceLevel, o.fillRate])
            // The thresholds depend on these parameters: make them due, with the caller's mark.
            try db.execute(sql: "UPDATE stock_thresholds SET computed_at_ms = ? WHERE store_id = ? AND product_id = ?",
                           arguments: [dueMarker, storeID, productID])
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
        let (sql, parameters) = SharedSQL.alerts(storeID: storeID, productID: productID, kind: kind, status: status,
                                                 beforeSequence: beforeSequence, limit: limit)
        let statementArguments = Self.arguments(parameters)
        return try await pool.read { db in try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(Self.alert(from:)) }
    }

    static let alertColumns = SharedSQL.alertColumns

    static func alert(from row: Row) throws -> Alert {
        guard let kind = AlertKind(rawValue: row[2]), let status = AlertStatus(rawValue: row[3]) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown alert kind or status")
        }
        return Alert(sequence: row[0], id: row[1], kind: kind, status: status, storeID: row[4], productID: row[5], quantity: row[6],
                     threshold: row[7], message: row[8], openedAtMillis: row[9], acknowledgedAtMillis: row[10], acknowledgedBy: row[11],
                     resolvedAtMillis: row[12])
    }
}
