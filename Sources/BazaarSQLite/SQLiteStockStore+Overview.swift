public import BazaarCore
import BazaarDomain
import GRDB

// MARK: - The dashboard's reads: per-store counts (chain overview) and a store's items with names and thresholds

extension SQLiteStockStore {
    /// Items, stock-outs, at-risk items and items without thresholds from the stock rows of the stores, and their
    /// open and acknowledged alerts (through the partial index of active alerts), in one statement.
    static let storeCountsSQL = """
        SELECT l.store_id, 0, COUNT(*),
            SUM(CASE WHEN l.quantity <= 0 THEN 1 ELSE 0 END),
            SUM(CASE WHEN l.quantity > 0 AND l.quantity <= COALESCE(t.low_stock_level, t.reorder_point) THEN 1 ELSE 0 END),
            SUM(CASE WHEN t.store_id IS NULL THEN 1 ELSE 0 END)
        FROM stock_levels l LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
        WHERE l.store_id IN (\(ReplenishmentQuery.placeholders)) GROUP BY l.store_id
        UNION ALL
        SELECT store_id, 1, 0, SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END),
            SUM(CASE WHEN status = 'acknowledged' THEN 1 ELSE 0 END), 0
        FROM alerts WHERE store_id IN (\(ReplenishmentQuery.placeholders)) AND status != 'resolved' GROUP BY store_id
        """

    public func storeCounts(storeIDs: [String]) async throws -> [StoreCounts] {
        let ids = ReplenishmentQuery.padded(storeIDs)
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: Self.storeCountsSQL, arguments: StatementArguments(ids + ids)).map { row in
                StoreCountsRow(storeID: row[0], part: row[1], values: (row[2], row[3], row[4], row[5]))
            }
        }
        return StoreCounts.assemble(rows, in: storeIDs)
    }

    public func storeItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [StoreItem] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT l.product_id, p.name, l.quantity, l.version, l.updated_at_ms, l.reserved, l.incoming,
                    (SELECT COUNT(*) FROM alerts a WHERE a.store_id = l.store_id AND a.product_id = l.product_id AND a.status != 'resolved'),
                    t.store_id IS NOT NULL, \(Self.thresholdColumns.map { "t." + $0 }.joined(separator: ", "))
                FROM stock_levels l LEFT JOIN products p ON p.id = l.product_id
                LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
                WHERE l.store_id = ? AND l.product_id > ? ORDER BY l.product_id LIMIT ?
                """, arguments: [storeID, afterProductID ?? "", limit]).map { row in
                StoreItem(productID: row[0], productName: row[1],
                          level: StockLevel(quantity: row[2], version: row[3], updatedAtMillis: row[4], reserved: row[5], incoming: row[6]),
                          thresholds: (row[8] as Bool) ? Self.thresholds(from: row, at: 9) : nil, activeAlerts: row[7])
            }
        }
    }
}
