public import BazaarCore
public import BazaarDomain
import MySQLClient

// MARK: - Stock intelligence (the engine reads and writes on the primary: it acts on what it reads)

extension MySQLStockStore {
    public func movements(storeID: String, productID: String, sinceMillis: Int64) async throws -> [Movement] {
        try await onPrimary { connection in
            try connection.select("""
                SELECT \(MySQLRows.movementColumns) FROM stock_movements WHERE store_id = ? AND product_id = ? AND at_ms >= ? ORDER BY seq
                """, [storeID, productID, sinceMillis]).map(MySQLRows.movement)
        }
    }

    /// The columns of `stock_thresholds` that `thresholds(from:at:)` reads, in its order.
    static let thresholdColumns = SharedSQL.thresholdColumns

    static func thresholds(from row: MySQLRow, at i: Int) throws -> StockThresholds {
        StockThresholds(dailyRate: try row.double(i), reorderPoint: try row.double(i + 1), orderUpTo: try row.double(i + 2),
                        leadTimeDays: Int(try row.int(i + 3)), anomalyAbove: try row.double(i + 4), historyDays: Int(try row.int(i + 5)),
                        computedAtMillis: try row.int(i + 6), model: row.optionalString(i + 7), demandClass: row.optionalString(i + 8),
                        censoredDays: Int(try row.int(i + 9)), dispersion: try row.optionalDouble(i + 10),
                        dailyLow: try row.optionalDouble(i + 11), dailyHigh: try row.optionalDouble(i + 12),
                        target: StockThresholds.target(serviceLevel: try row.optionalDouble(i + 13), fillRate: try row.optionalDouble(i + 14)),
                        lowStockLevel: try row.optionalDouble(i + 15), reviewPeriodDays: try row.optionalInt(i + 16).map(Int.init))
    }

    public func thresholds(storeID: String, productID: String) async throws -> StockThresholds? {
        try await onPrimary { connection in
            try connection.select("""
                SELECT \(Self.thresholdColumns.joined(separator: ", ")) FROM stock_thresholds WHERE store_id = ? AND product_id = ?
                """, [storeID, productID]).first.map { try Self.thresholds(from: $0, at: 0) }
        }
    }

    public func saveThresholds(_ t: StockThresholds, storeID: String, productID: String) async throws {
        try await writeOnPrimary { connection in
            try connection.execute("""
                REPLACE INTO stock_thresholds (store_id, product_id, \(Self.thresholdColumns.joined(separator: ", ")))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [storeID, productID, t.dailyRate, t.reorderPoint, t.orderUpTo, t.leadTimeDays, t.anomalyAbove, t.historyDays,
                      t.computedAtMillis, t.model, t.demandClass, t.censoredDays, t.dispersion, t.dailyLow, t.dailyHigh,
                      t.targetColumns.serviceLevel, t.targetColumns.fillRate, t.lowStockLevel, t.reviewPeriodDays])
        }
    }

    // Replenishment reads what the engine stored, like a listing: on a replica.

    public func replenishmentItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [ReplenishmentItem] {
        try await onReplica { connection in
            try connection.select(SharedSQL.replenishmentItems, [storeID, afterProductID ?? "", limit]).map { row in
                ReplenishmentItem(productID: try row.string(0), onHand: try row.int(1), thresholds: try Self.thresholds(from: row, at: 4),
                                  packSize: Int(try row.int(2)), position: try row.int(3))
            }
        }
    }

    public func excessStock(productIDs: [String], excludingStoreID: String) async throws -> [ExcessStock] {
        let arguments: [any MySQLBindable] = ReplenishmentQuery.padded(productIDs) + [excludingStoreID]
        return try await onReplica { connection in
            try connection.select("""
                SELECT l.product_id, l.store_id, l.quantity - l.reserved, t.order_up_to
                FROM stock_levels l JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
                WHERE l.product_id IN (\(ReplenishmentQuery.placeholders)) AND l.store_id <> ? AND l.quantity - l.reserved > t.order_up_to
                ORDER BY l.product_id, l.store_id
                """, arguments).map { row in
                ExcessStock(productID: try row.string(0), storeID: try row.string(1), quantity: try row.int(2), orderUpTo: try row.double(3))
            }
        }
    }

    public func itemsWithoutThresholds(storeID: String) async throws -> Int {
        try await onReplica { connection in
            Int(try connection.select("""
                SELECT COUNT(*) FROM stock_levels l LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
                WHERE l.store_id = ? AND t.store_id IS NULL
                """, [storeID]).first?.int(0) ?? 0)
        }
    }

    public func replenishmentOverride(storeID: String, productID: String) async throws -> ReplenishmentOverride? {
        try await onPrimary { connection in
            try connection.select("""
                SELECT lead_time_days, review_period_days, pack_size, service_level, fill_rate FROM replenishment_overrides
                WHERE store_id = ? AND product_id = ?
                """, [storeID, productID]).first.map {
                ReplenishmentOverride(leadTimeDays: try $0.optionalInt(0).map(Int.init), reviewPeriodDays: try $0.optionalInt(1).map(Int.init),
                                      packSize: try $0.optionalInt(2).map(Int.init), serviceLevel: try $0.optionalDouble(3),
                                      fillRate: try $0.optionalDouble(4))
            }
        }
    }

    public func saveReplenishmentOverride(_ o: ReplenishmentOverride, storeID: String, productID: String, dueMarker: Int64) async throws {
        try await writeOnPrimary { connection in
            try connection.execute("""
                REPLACE INTO replenishment_overrides (store_id, product_id, lead_time_days, review_period_days, pack_size, service_level,
                    fill_rate) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [storeID, productID, o.leadTimeDays, o.reviewPeriodDays, o.packSize, o.serviceLevel, o.fillRate])
            // The thresholds depend on these parameters: make them due, with the caller's mark.
            try connection.execute("UPDATE stock_thresholds SET computed_at_ms = ? WHERE store_id = ? AND product_id = ?", [dueMarker, storeID, productID])
        }
    }

    public func activeAlerts(storeID: String, productID: String) async throws -> [Alert] {
        try await onPrimary { connection in
            try connection.select("SELECT \(MySQLRows.alertColumns) FROM alerts WHERE store_id = ? AND product_id = ? AND status <> 'resolved'",
                                  [storeID, productID]).map(MySQLRows.alert)
        }
    }

    public func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert] {
        try await writeOnPrimary { connection in
            var recorded: [Alert] = []
            for var alert in inserted {
                // IGNORE: the condition may already have an active alert (the unique key on active_kind says so).
                let result = try connection.execute("""
                    INSERT IGNORE INTO alerts (id, kind, status, store_id, product_id, quantity, threshold, message, opened_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [alert.id, alert.kind.rawValue, alert.status.rawValue, alert.storeID, alert.productID, alert.quantity, alert.threshold,
                          alert.message, alert.openedAtMillis])
                guard result.affectedRows > 0 else { continue }
                alert.sequence = Int64(result.lastInsertID)
                recorded.append(alert)
            }
            for alert in changed {
                let result = try connection.execute("""
                    UPDATE alerts SET status = ?, quantity = ?, message = ?, acknowledged_at_ms = ?, acknowledged_by = ?, resolved_at_ms = ?
                    WHERE id = ? AND status <> 'resolved'
                    """, [alert.status.rawValue, alert.quantity, alert.message, alert.acknowledgedAtMillis, alert.acknowledgedBy,
                          alert.resolvedAtMillis, alert.id])
                if result.affectedRows > 0 { recorded.append(alert) }
            }
            for alert in recorded {
                try connection.execute("INSERT INTO event_outbox (topic, `key`, event_id, payload) VALUES (?, ?, ?, ?)",
                                       [AlertEvent.topic, alert.storeID, "\(alert.id):\(alert.status.rawValue)", alert.cloudEventJSON])
            }
            return recorded
        }
    }

    public func alert(id: String) async throws -> Alert? {
        try await onPrimary { try $0.select("SELECT \(MySQLRows.alertColumns) FROM alerts WHERE id = ?", [id]).first.map(MySQLRows.alert) }
    }

    public func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?,
                       limit: Int) async throws -> [Alert] {
        let (sql, parameters) = SharedSQL.alerts(storeID: storeID, productID: productID, kind: kind, status: status,
                                                 beforeSequence: beforeSequence, limit: limit)
        let bound = MySQLRows.bound(parameters)
        return try await onReplica { try $0.select(sql, bound).map(MySQLRows.alert) }
    }
}

// MARK: - Webhooks

extension MySQLStockStore {
    public func insertWebhook(_ w: Webhook) async throws {
        try await writeOnPrimary { connection in
            try connection.execute("INSERT INTO webhooks (id, url, secret, stores, created_at_ms) VALUES (?, ?, ?, ?, ?)",
                                   [w.id, w.url, w.secret, w.stores.joined(separator: ","), w.createdAtMillis])
        }
    }

    public func webhooks() async throws -> [Webhook] {
        try await onPrimary { connection in
            try connection.select("SELECT id, url, secret, stores, created_at_ms FROM webhooks WHERE deleted_at_ms IS NULL ORDER BY created_at_ms, id")
                .map { row in
                    let stores = try row.string(3)
                    return Webhook(id: try row.string(0), url: try row.string(1), secret: try row.string(2),
                                   stores: stores.isEmpty ? [] : stores.split(separator: ",").map(String.init), createdAtMillis: try row.int(4))
                }
        }
    }

    public func deleteWebhook(id: String, atMillis: Int64) async throws -> Bool {
        try await writeOnPrimary { connection in
            let deleted = try connection.execute("UPDATE webhooks SET deleted_at_ms = ? WHERE id = ? AND deleted_at_ms IS NULL", [atMillis, id])
                .affectedRows > 0
            try connection.execute("UPDATE webhook_deliveries SET state = '\(WebhookDeliveryState.cancelled.rawValue)' WHERE webhook_id = ? AND state = '\(WebhookDeliveryState.pending.rawValue)'", [id])
            return deleted
        }
    }

    public func enqueueDeliveries(webhookIDs: [String], eventID: String, payload: String, atMillis: Int64) async throws {
        guard !webhookIDs.isEmpty else { return }
        try await writeOnPrimary { connection in
            for id in webhookIDs {
                try connection.execute("""
                    INSERT IGNORE INTO webhook_deliveries (webhook_id, event_id, payload, next_attempt_at_ms) VALUES (?, ?, ?, ?)
                    """, [id, eventID, payload, atMillis])
            }
        }
    }

    public func dueDeliveries(atMillis: Int64, limit: Int) async throws -> [WebhookDelivery] {
        try await onPrimary { connection in
            try connection.select("""
                SELECT d.seq, d.webhook_id, w.url, w.secret, d.event_id, d.payload, d.attempts FROM webhook_deliveries d
                JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.state = '\(WebhookDeliveryState.pending.rawValue)' AND d.next_attempt_at_ms <= ? ORDER BY d.next_attempt_at_ms, d.seq LIMIT ?
                """, [atMillis, limit]).map {
                WebhookDelivery(sequence: try $0.int(0), webhookID: try $0.string(1), url: try $0.string(2), secret: try $0.string(3),
                                eventID: try $0.string(4), payload: try $0.string(5), attempts: Int(try $0.int(6)))
            }
        }
    }

    public func recordAttempt(_ d: WebhookDelivery, atMillis: Int64, statusCode: Int?, error: String?, delivered: Bool,
                              nextAttemptAtMillis: Int64?) async throws {
        try await writeOnPrimary { connection in
            try connection.execute("""
                INSERT INTO webhook_attempts (delivery_seq, webhook_id, event_id, attempt, at_ms, status_code, error) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [d.sequence, d.webhookID, d.eventID, d.attempts + 1, atMillis, statusCode, error])
            let state = WebhookDeliveryState.after(delivered: delivered, nextAttemptAtMillis: nextAttemptAtMillis).rawValue
            try connection.execute("UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, next_attempt_at_ms = ? WHERE seq = ?",
                                   [state, nextAttemptAtMillis ?? atMillis, d.sequence])
        }
    }

    public func webhookAttempts(webhookID: String, limit: Int) async throws -> [WebhookAttempt] {
        try await onPrimary { connection in
            try connection.select("""
                SELECT event_id, attempt, at_ms, status_code, error FROM webhook_attempts WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?
                """, [webhookID, limit]).map {
                WebhookAttempt(eventID: try $0.string(0), attempt: Int(try $0.int(1)), atMillis: try $0.int(2),
                               statusCode: try $0.optionalInt(3).map(Int.init), error: $0.optionalString(4))
            }
        }
    }
}
