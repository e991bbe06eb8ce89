public import BazaarDomain

/// Alerts as the engines keep them: at most one active alert per store x product x kind (their partial unique
/// index), each recorded change with its event in the event outbox, in one critical section.
extension InMemoryLedgerStore: AlertStore {
    public func activeAlerts(storeID: String, productID: String) async throws -> [Alert] {
        tables.withLock { tables in
            tables.alerts.filter { $0.storeID == storeID && $0.productID == productID && $0.status != .resolved }
        }
    }

    public func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert] {
        tables.withLock { tables in
            var recorded: [Alert] = []
            for var alert in inserted {
                // `INSERT OR IGNORE`: a taken id, or a condition that already has an active alert, inserts nothing.
                let taken = tables.alerts.contains { existing in
                    existing.id == alert.id || (existing.status != .resolved && existing.storeID == alert.storeID
                                                && existing.productID == alert.productID && existing.kind == alert.kind)
                }
                guard !taken else { continue }
                alert.sequence = (tables.alerts.last?.sequence ?? 0) + 1
                // The engines insert the opening columns only; the answer is the alert as given, with its sequence.
                var row = alert
                (row.acknowledgedAtMillis, row.acknowledgedBy, row.resolvedAtMillis) = (nil, nil, nil)
                tables.alerts.append(row)
                recorded.append(alert)
            }
            for alert in changed {
                // Only an alert not yet resolved changes; what changes is its state, level and message.
                guard let index = tables.alerts.firstIndex(where: { $0.id == alert.id && $0.status != .resolved }) else { continue }
                tables.alerts[index].status = alert.status
                tables.alerts[index].quantity = alert.quantity
                tables.alerts[index].message = alert.message
                tables.alerts[index].acknowledgedAtMillis = alert.acknowledgedAtMillis
                tables.alerts[index].acknowledgedBy = alert.acknowledgedBy
                tables.alerts[index].resolvedAtMillis = alert.resolvedAtMillis
                recorded.append(alert)
            }
            for alert in recorded {
                tables.eventOutbox.append(OutboxEntry(
                    sequence: tables.nextEventSequence, topic: AlertEvent.topic, key: alert.storeID,
                    eventID: "\(alert.id):\(alert.status.rawValue)", payload: alert.cloudEventJSON))
                tables.nextEventSequence += 1
            }
            return recorded
        }
    }

    public func alert(id: String) async throws -> Alert? {
        tables.withLock { tables in tables.alerts.first { $0.id == id } }
    }

    /// Newest first; `beforeSequence` is the page cursor.
    public func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?,
                       limit: Int) async throws -> [Alert] {
        tables.withLock { tables in
            var page: [Alert] = []
            for alert in tables.alerts.reversed() where page.count < limit {
                if let storeID, alert.storeID != storeID { continue }
                if let productID, alert.productID != productID { continue }
                if let kind, alert.kind != kind { continue }
                if let status, alert.status != status { continue }
                if let beforeSequence, alert.sequence >= beforeSequence { continue }
                page.append(alert)
            }
            return page
        }
    }
}
