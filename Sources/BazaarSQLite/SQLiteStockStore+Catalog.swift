import BazaarCore
public import BazaarDomain
import GRDB

/// `CatalogStore`: stores and products.
extension SQLiteStockStore {
    public func upsertStore(_ store: Store) async throws -> Bool {
        try await pool.write { db in
            let existed = try Bool.fetchOne(db, sql: "SELECT 1 FROM stores WHERE id = ?", arguments: [store.id]) ?? false
            try db.execute(sql: """
                INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, attributes = excluded.attributes, updated_at_ms = excluded.updated_at_ms
                """, arguments: [store.id, store.name, store.attributesJSON, store.createdAtMillis, store.updatedAtMillis])
            return !existed
        }
    }

    public func store(id: String) async throws -> Store? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, name, attributes, created_at_ms, updated_at_ms FROM stores WHERE id = ?",
                             arguments: [id]).map(Self.store(from:))
        }
    }

    public func stores(afterID: String?, limit: Int) async throws -> [Store] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, attributes, created_at_ms, updated_at_ms FROM stores WHERE id > ? ORDER BY id LIMIT ?",
                             arguments: [afterID ?? "", limit]).map(Self.store(from:))
        }
    }

    public func upsertProduct(_ p: Product) async throws -> Bool {
        try await pool.write { db in
            let existed = try Bool.fetchOne(db, sql: "SELECT 1 FROM products WHERE id = ?", arguments: [p.id]) ?? false
            try db.execute(sql: """
                INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level,
                    created_at_ms, updated_at_ms, fill_rate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, attributes = excluded.attributes,
                    lead_time_days = excluded.lead_time_days, review_period_days = excluded.review_period_days,
                    pack_size = excluded.pack_size, service_level = excluded.service_level, updated_at_ms = excluded.updated_at_ms,
                    fill_rate = excluded.fill_rate
                """, arguments: [p.id, p.name, p.attributesJSON, p.leadTimeDays, p.reviewPeriodDays, p.packSize, p.serviceLevel,
                                 p.createdAtMillis, p.updatedAtMillis, p.fillRate])
            return !existed
        }
    }

    public func product(id: String) async throws -> Product? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.productColumns) FROM products WHERE id = ?", arguments: [id]).map(Self.product(from:))
        }
    }

    public func products(afterID: String?, limit: Int) async throws -> [Product] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.productColumns) FROM products WHERE id > ? ORDER BY id LIMIT ?",
                             arguments: [afterID ?? "", limit]).map(Self.product(from:))
        }
    }

    public func allStoreIDs() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM stores") }
    }

    public func allProductIDs() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM products") }
    }
}
