public import BazaarCore
public import BazaarDomain
import MySQLClient

// MARK: - Reads for a batch of alert evaluations (issue 15): on the primary, like the single reads they stand for

extension MySQLStockStore {
    public func thresholds(storeID: String, productIDs: [String]) async throws -> [String: StockThresholds] {
        try await onPrimary { connection in
            var found: [String: StockThresholds] = [:]
            for list in ReplenishmentQuery.paddedChunks(productIDs) {
                for row in try connection.select("""
                    SELECT product_id, \(Self.thresholdColumns.joined(separator: ", ")) FROM stock_thresholds
                    WHERE store_id = ? AND product_id IN (\(ReplenishmentQuery.placeholders))
                    """, [storeID] + list) {
                    found[try row.string(0)] = try Self.thresholds(from: row, at: 1)
                }
            }
            return found
        }
    }

    public func activeAlerts(storeID: String, productIDs: [String]) async throws -> [Alert] {
        try await onPrimary { connection in
            try ReplenishmentQuery.paddedChunks(productIDs).flatMap { list in
                try connection.select("""
                    SELECT \(MySQLRows.alertColumns) FROM alerts
                    WHERE store_id = ? AND product_id IN (\(ReplenishmentQuery.placeholders)) AND status <> 'resolved'
                    """, [storeID] + list).map(MySQLRows.alert)
            }
        }
    }

    public func recomputeCandidates(storeID: String, productIDs: [String]) async throws -> [RecomputeCandidate] {
        try await onPrimary { connection in
            try ReplenishmentQuery.paddedChunks(productIDs).flatMap { list in
                try connection.select(Self.someCandidates, [storeID] + list).map(Self.recomputeCandidate)
            }
        }
    }

    static let someCandidates = SharedSQL.recomputeCandidates(productPlaceholders: ReplenishmentQuery.placeholders)
}
