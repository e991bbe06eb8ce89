public import BazaarCore
import MySQLClient

/// `LevelScanStore`: the stock rows in primary-key order, for warming the cache.
extension MySQLStockStore: LevelScanStore {
    /// On the primary (a replica may be behind what this node's writes already cached): the rest of `after`'s
    /// store, then the stores after it, two ranges of the primary key (MariaDB does not plan a row-value comparison
    /// as one). Two statements, so the rows of a page may come from two snapshots: each row is still a committed
    /// level, which is all the cache's warm needs.
    public func levelsInKeyOrder(after: StockKey?, limit: Int) async throws -> [StockRow] {
        try await onPrimary { connection in
            var rows: [StockRow] = []
            if let after {
                rows = try connection.select("""
                    SELECT \(MySQLRows.levelColumns) FROM stock_levels WHERE store_id = ? AND product_id > ? ORDER BY product_id LIMIT ?
                    """, [after.storeID, after.productID, limit]).map(MySQLRows.stockRow)
            }
            guard rows.count < limit else { return rows }
            let later = try connection.select("""
                SELECT \(MySQLRows.levelColumns) FROM stock_levels WHERE store_id > ? ORDER BY store_id, product_id LIMIT ?
                """, [after?.storeID ?? "", limit - rows.count]).map(MySQLRows.stockRow)
            return rows + later
        }
    }
}
