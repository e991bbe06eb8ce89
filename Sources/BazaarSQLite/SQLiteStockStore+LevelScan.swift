public import BazaarCore
import GRDB

/// `LevelScanStore`: the stock rows in primary-key order, for warming the cache.
extension SQLiteStockStore: LevelScanStore {
    /// The rest of `after`'s store, then the stores after it: two ranges of the primary key in one snapshot (a
    /// row-value comparison would be one range on SQLite, but the engines share the shape).
    public func levelsInKeyOrder(after: StockKey?, limit: Int) async throws -> [StockRow] {
        try await pool.read { db in
            var rows: [StockRow] = []
            if let after {
                rows = try Row.fetchAll(db, sql: """
                    SELECT store_id, product_id, \(Self.levelColumns) FROM stock_levels
                    WHERE store_id = ? AND product_id > ? ORDER BY product_id LIMIT ?
                    """, arguments: [after.storeID, after.productID, limit]).map(Self.stockRow)
            }
            guard rows.count < limit else { return rows }
            let later = try Row.fetchAll(db, sql: """
                SELECT store_id, product_id, \(Self.levelColumns) FROM stock_levels
                WHERE store_id > ? ORDER BY store_id, product_id LIMIT ?
                """, arguments: [after?.storeID ?? "", limit - rows.count]).map(Self.stockRow)
            return rows + later
        }
    }
}
