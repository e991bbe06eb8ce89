import BazaarCore
public import BazaarDomain
import MySQLClient

/// `CatalogStore`: stores and products.
extension MySQLStockStore {
    public func upsertStore(_ store: Store) async throws -> Bool {
        try await writeOnPrimary { connection in
            let existed = try !connection.select("SELECT 1 FROM stores WHERE id = ? FOR UPDATE", [store.id]).isEmpty
            try connection.execute("""
                INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE name = VALUES(name), attributes = VALUES(attributes), updated_at_ms = VALUES(updated_at_ms)
                """, [store.id, store.name, store.attributesJSON, store.createdAtMillis, store.updatedAtMillis])
            return !existed
        }
    }

    /// Stores are never deleted: a replica's hit is right, and its miss is checked on the primary (it may lag).
    public func store(id: String) async throws -> Store? {
        let sql = "SELECT \(MySQLRows.storeColumns) FROM stores WHERE id = ?"
        if let found = try await onReplica({ try $0.select(sql, [id]).first.map(MySQLRows.store) }) { return found }
        return try await onPrimary { try $0.select(sql, [id]).first.map(MySQLRows.store) }
    }

    public func stores(afterID: String?, limit: Int) async throws -> [Store] {
        try await onReplica { connection in
            try connection.select("SELECT \(MySQLRows.storeColumns) FROM stores WHERE id > ? ORDER BY id LIMIT ?", [afterID ?? "", limit])
                .map(MySQLRows.store)
        }
    }

    public func upsertProduct(_ p: Product) async throws -> Bool {
        try await writeOnPrimary { connection in
            let existed = try !connection.select("SELECT 1 FROM products WHERE id = ? FOR UPDATE", [p.id]).isEmpty
            try connection.execute("""
                INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms,
                    updated_at_ms, fill_rate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE name = VALUES(name), attributes = VALUES(attributes), lead_time_days = VALUES(lead_time_days),
                    review_period_days = VALUES(review_period_days), pack_size = VALUES(pack_size), service_level = VALUES(service_level),
                    updated_at_ms = VALUES(updated_at_ms), fill_rate = VALUES(fill_rate)
                """, [p.id, p.name, p.attributesJSON, p.leadTimeDays, p.reviewPeriodDays, p.packSize, p.serviceLevel, p.createdAtMillis,
                      p.updatedAtMillis, p.fillRate])
            return !existed
        }
    }

    /// As `store(id:)`: a replica's miss is checked on the primary.
    public func product(id: String) async throws -> Product? {
        let sql = "SELECT \(MySQLRows.productColumns) FROM products WHERE id = ?"
        if let found = try await onReplica({ try $0.select(sql, [id]).first.map(MySQLRows.product) }) { return found }
        return try await onPrimary { try $0.select(sql, [id]).first.map(MySQLRows.product) }
    }

    public func products(afterID: String?, limit: Int) async throws -> [Product] {
        try await onReplica { connection in
            try connection.select("SELECT \(MySQLRows.productColumns) FROM products WHERE id > ? ORDER BY id LIMIT ?", [afterID ?? "", limit])
                .map(MySQLRows.product)
        }
    }

    public func allStoreIDs() async throws -> [String] {
        try await onPrimary { try $0.select("SELECT id FROM stores").map { try $0.string(0) } }
    }

    public func allProductIDs() async throws -> [String] {
        try await onPrimary { try $0.select("SELECT id FROM products").map { try $0.string(0) } }
    }
}
