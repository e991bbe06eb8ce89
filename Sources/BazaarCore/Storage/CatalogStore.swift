public import BazaarDomain

/// Stores and products: what stock may be kept for.
public protocol CatalogStore: Sendable {
    /// Returns true when the store was created, false when updated.
    func upsertStore(_ store: Store) async throws -> Bool
    func store(id: String) async throws -> Store?
    func stores(afterID: String?, limit: Int) async throws -> [Store]
    /// Returns true when the product was created, false when updated.
    func upsertProduct(_ product: Product) async throws -> Bool
    func product(id: String) async throws -> Product?
    func products(afterID: String?, limit: Int) async throws -> [Product]
    /// Every id, for the in-memory `CatalogIndex` at start.
    func allStoreIDs() async throws -> [String]
    func allProductIDs() async throws -> [String]
}
