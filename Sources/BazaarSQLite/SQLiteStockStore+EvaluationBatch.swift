public import BazaarCore
public import BazaarDomain
import GRDB

// MARK: - Reads for a batch of alert evaluations (issue 15)

extension SQLiteStockStore {
    public func thresholds(storeID: String, productIDs: [String]) async throws -> [String: StockThresholds] {
        try await pool.read { db in
            var found: [String: StockThresholds] = [:]
            let statement = try db.cachedStatement(sql: """
                SELECT product_id, \(Self.thresholdColumns.joined(separator: ", ")) FROM stock_thresholds
                WHERE store_id = ? AND product_id IN (\(ReplenishmentQuery.placeholders))
                """)
            for list in ReplenishmentQuery.paddedChunks(productIDs) {
                for row in try Row.fetchAll(statement, arguments: StatementArguments([storeID] + list)) {
                    found[row[0]] = Self.thresholds(from: row, at: 1)
                }
            }
            return found
        }
    }

    public func activeAlerts(storeID: String, productIDs: [String]) async throws -> [Alert] {
        try await pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT \(Self.alertColumns) FROM alerts
                WHERE store_id = ? AND product_id IN (\(ReplenishmentQuery.placeholders)) AND status != 'resolved'
                """)
            return try ReplenishmentQuery.paddedChunks(productIDs).flatMap { list in
                try Row.fetchAll(statement, arguments: StatementArguments([storeID] + list)).map(Self.alert(from:))
            }
        }
    }

    public func recomputeCandidates(storeID: String, productIDs: [String]) async throws -> [RecomputeCandidate] {
        try await pool.read { db in
            let statement = try db.cachedStatement(sql: SharedSQL.recomputeCandidates(productPlaceholders: ReplenishmentQuery.placeholders))
            return try ReplenishmentQuery.paddedChunks(productIDs).flatMap { list in
                try Row.fetchAll(statement, arguments: StatementArguments([storeID] + list)).map(Self.recomputeCandidate)
            }
        }
    }
}
