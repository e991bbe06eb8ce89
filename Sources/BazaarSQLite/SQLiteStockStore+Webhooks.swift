public import BazaarCore
import BazaarDomain
import GRDB

/// `WebhookStore`: subscriptions, their queued deliveries and the attempts.
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
