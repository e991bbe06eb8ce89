public import BazaarDomain

/// The catalog as the engines keep it: an upsert keeps the row's creation time, listings page in byte order of id.
extension InMemoryLedgerStore: CatalogStore {
    public func upsertStore(_ store: Store) async throws -> Bool {
        tables.withLock { tables in
            var saved = store
            if let existing = tables.stores[store.id] { saved.createdAtMillis = existing.createdAtMillis }
            return tables.stores.updateValue(saved, forKey: store.id) == nil
        }
    }

    public func store(id: String) async throws -> Store? {
        tables.withLock { $0.stores[id] }
    }

    public func stores(afterID: String?, limit: Int) async throws -> [Store] {
        tables.withLock { Self.page($0.stores, after: afterID, limit: limit) }
    }

    public func upsertProduct(_ product: Product) async throws -> Bool {
        tables.withLock { tables in
            var saved = product
            if let existing = tables.products[product.id] { saved.createdAtMillis = existing.createdAtMillis }
            return tables.products.updateValue(saved, forKey: product.id) == nil
        }
    }

    public func product(id: String) async throws -> Product? {
        tables.withLock { $0.products[id] }
    }

    public func products(afterID: String?, limit: Int) async throws -> [Product] {
        tables.withLock { Self.page($0.products, after: afterID, limit: limit) }
    }

    public func allStoreIDs() async throws -> [String] {
        tables.withLock { Array($0.stores.keys) }
    }

    public func allProductIDs() async throws -> [String] {
        tables.withLock { Array($0.products.keys) }
    }

    private static func page<Row>(_ rows: [String: Row], after: String?, limit: Int) -> [Row] {
        rows.filter { InMemoryTables.follows($0.key, after) }.sorted { InMemoryTables.precedes($0.key, $1.key) }
            .prefix(max(0, limit)).map(\.value)
    }
}
