public import BazaarCore
import BazaarDomain
import MySQLClient

// MARK: - The dashboard's reads: per-store counts (chain overview) and a store's items with names and thresholds.
// Read like listings: on a replica.

extension MySQLStockStore {
    /// Items, stock-outs, at-risk items and items without thresholds from the stock rows of the stores, and their
    /// open and acknowledged alerts, in one statement (MySQL's SUM of integers is a DECIMAL: cast back).
    static let storeCountsSQL = """
        SELECT l.store_id, 0, COUNT(*),
            CAST(SUM(CASE WHEN l.quantity <= 0 THEN 1 ELSE 0 END) AS SIGNED),
            CAST(SUM(CASE WHEN l.quantity > 0 AND l.quantity <= COALESCE(t.low_stock_level, t.reorder_point) THEN 1 ELSE 0 END) AS SIGNED),
            CAST(SUM(CASE WHEN t.store_id IS NULL THEN 1 ELSE 0 END) AS SIGNED)
        FROM stock_levels l LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
        WHERE l.store_id IN (\(ReplenishmentQuery.placeholders)) GROUP BY l.store_id
        UNION ALL
        SELECT store_id, 1, 0, CAST(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS SIGNED),
            CAST(SUM(CASE WHEN status = 'acknowledged' THEN 1 ELSE 0 END) AS SIGNED), 0
        FROM alerts WHERE store_id IN (\(ReplenishmentQuery.placeholders)) AND active_kind IS NOT NULL GROUP BY store_id
        """

    public func storeCounts(storeIDs: [String]) async throws -> [StoreCounts] {
        let ids = ReplenishmentQuery.padded(storeIDs)
        let arguments: [any MySQLBindable] = ids + ids
        let rows = try await onReplica { connection in
            try connection.select(Self.storeCountsSQL, arguments).map { row in
                StoreCountsRow(storeID: try row.string(0), part: try row.int(1),
                               values: (Int(try row.int(2)), Int(try row.int(3)), Int(try row.int(4)), Int(try row.int(5))))
            }
        }
        return StoreCounts.assemble(rows, in: storeIDs)
    }

    public func storeItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [StoreItem] {
        try await onReplica { connection in
            try connection.select("""
                SELECT l.product_id, p.name, l.quantity, l.version, l.updated_at_ms, l.reserved, l.incoming,
                    (SELECT COUNT(*) FROM alerts a WHERE a.store_id = l.store_id AND a.product_id = l.product_id AND a.active_kind IS NOT NULL),
                    IF(t.store_id IS NULL, 0, 1), \(Self.thresholdColumns.map { "t." + $0 }.joined(separator: ", "))
                FROM stock_levels l LEFT JOIN products p ON p.id = l.product_id
                LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
                WHERE l.store_id = ? AND l.product_id > ? ORDER BY l.product_id LIMIT ?
                """, [storeID, afterProductID ?? "", limit]).map { row in
                StoreItem(productID: try row.string(0), productName: row.optionalString(1),
                          level: StockLevel(quantity: try row.int(2), version: try row.int(3), updatedAtMillis: try row.int(4),
                                            reserved: try row.int(5), incoming: try row.int(6)),
                          thresholds: try row.int(8) == 1 ? try Self.thresholds(from: row, at: 9) : nil, activeAlerts: Int(try row.int(7)))
            }
        }
    }
}
