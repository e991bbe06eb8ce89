public import BazaarCore
public import BazaarDomain
import MySQLClient

/// Bulk history on MySQL / MariaDB (`bazaar demo` at chain sizes): a chunk is one transaction on the primary with
/// multi-row statements of up to 1,000 rows (its ledger rows as bulk executions on MariaDB), its sequences reserved from `ledger_clock` like a group commit's (so the
/// write path carries on after them), nothing in the outbox.
extension MySQLStockStore: BulkLoadStore {
    public func ledgerIsEmpty() async throws -> Bool {
        try await onPrimary { connection in
            try connection.select("""
                SELECT NOT EXISTS (SELECT 1 FROM stock_movements) AND NOT EXISTS (SELECT 1 FROM stock_levels)
                """)[0].int(0) == 1
        }
    }

    public func insertCatalog(stores: [Store], products: [Product]) async throws {
        try await writeOnPrimary { connection in
            for start in stride(from: 0, to: stores.count, by: 1000) {
                let values = try stores[start..<min(start + 1000, stores.count)].map { s in
                    try "(" + [MySQLValue.text(s.id), .text(s.name), .text(s.attributesJSON), .int(s.createdAtMillis), .int(s.updatedAtMillis)]
                        .map(connection.literal).joined(separator: ",") + ")"
                }
                try connection.run("""
                    INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES \(values.joined(separator: ","))
                    ON DUPLICATE KEY UPDATE name = VALUES(name), attributes = VALUES(attributes), updated_at_ms = VALUES(updated_at_ms)
                    """)
            }
            for start in stride(from: 0, to: products.count, by: 1000) {
                let values = try products[start..<min(start + 1000, products.count)].map { p in
                    try "(" + [MySQLValue.text(p.id), .text(p.name), .text(p.attributesJSON), .int(Int64(p.leadTimeDays)),
                               .int(Int64(p.reviewPeriodDays)), .int(Int64(p.packSize)), .double(p.serviceLevel), .int(p.createdAtMillis),
                               .int(p.updatedAtMillis), p.fillRate.map(MySQLValue.double) ?? .null].map(connection.literal).joined(separator: ",") + ")"
                }
                try connection.run("""
                    INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms,
                        updated_at_ms, fill_rate) VALUES \(values.joined(separator: ","))
                    ON DUPLICATE KEY UPDATE name = VALUES(name), attributes = VALUES(attributes), lead_time_days = VALUES(lead_time_days),
                        review_period_days = VALUES(review_period_days), pack_size = VALUES(pack_size), service_level = VALUES(service_level),
                        updated_at_ms = VALUES(updated_at_ms), fill_rate = VALUES(fill_rate)
                    """)
            }
        }
    }

    public func appendBulk(_ chunk: BulkLedgerChunk) async throws {
        try await onPrimary { connection in
            try connection.transaction { connection in
                // What needs no sequence first, the clock last, as a group commit does (`MySQLLedgerTransaction.flush`).
                for start in stride(from: 0, to: chunk.levels.count, by: 1000) {
                    try MySQLLedgerTransaction.writeLevelsKeepingDemand(chunk.levels[start..<min(start + 1000, chunk.levels.count)], upsert: true, into: connection)
                }
                // Daily demand (issue 14), as every ledger write keeps it.
                try Self.upsertDemand(DemandDays.rollup(chunk.movements), into: connection, nowMillis: chunk.movements.last?.recordedAtMillis ?? 0)
                let sequences = try connection.reserveSequences(chunk.movements.count)
                for start in stride(from: 0, to: chunk.movements.count, by: 1000) {
                    try MySQLLedgerTransaction.insertMovements(chunk.movements, sequences: sequences, start..<min(start + 1000, chunk.movements.count),
                                                               into: connection)
                }
                if chunk.publish {
                    try MySQLLedgerTransaction.queueEvents(ofSequences: sequences, into: connection)
                }
                try MySQLLedgerTransaction.extendLedgerDays(of: chunk.movements, sequences: sequences, into: connection)
            }
        }
    }

    /// Nothing set aside on MySQL: dropping and rebuilding the ledger's indexes is DDL that every replica replays
    /// after the primary, and the load into MariaDB was not measured to be index-bound (BENCHMARKS.md, chain scale).
    public func beginBulkLoad() async throws {}

    /// The sequences were reserved from `ledger_clock` as the chunks went: the write path already carries on after
    /// them. Fresh statistics for the planner (the tables grew from nothing).
    public func finishBulkLoad() async throws {
        try await onPrimary { connection in
            _ = try connection.query("ANALYZE TABLE stock_movements, stock_levels, ledger_days")
        }
    }
}

extension MySQLStockStore {
    /// The plan the primary makes for an audit query (`EXPLAIN`: access type, key and extra of each row, as
    /// `type=... key=... extra=...`), with a time window as the sequence range it becomes: how `AuditPlanTests` holds
    /// every filter set to an index without a filesort.
    public func explainAuditLog(_ query: AuditQuery) async throws -> [String] {
        let sequences: ClosedRange<Int64>? = query.ledgerDays == nil ? nil : 1...Int64.max
        let sql = "EXPLAIN " + Self.auditSQL(query, sequences: sequences)
        let parameters = MySQLRows.bound(query.parameters(sequences: sequences))
        return try await onPrimary { connection in
            try connection.select(sql, parameters).map { row in
                "type=\(row.optionalString(3) ?? "") key=\(row.optionalString(5) ?? "") extra=\(row.optionalString(9) ?? "")"
            }
        }
    }
}
