import Synchronization

/// The set of known store and product ids, held in memory so the hot paths answer 404 without a query.
///
/// Stores and products are never deleted, so a hit is always right; a miss falls back to the database
/// (a store created on another node is found there and remembered).
public final class CatalogIndex: Sendable {
    private let storeIDs = Mutex<Set<String>>([])
    private let productIDs = Mutex<Set<String>>([])
    private let store: any CatalogStore

    public init(store: any CatalogStore) { self.store = store }

    public func warm() async throws {
        let stores = try await store.allStoreIDs()
        let products = try await store.allProductIDs()
        storeIDs.withLock { $0.formUnion(stores) }
        productIDs.withLock { $0.formUnion(products) }
    }

    public func addStore(_ id: String) { _ = storeIDs.withLock { $0.insert(id) } }
    public func addProduct(_ id: String) { _ = productIDs.withLock { $0.insert(id) } }

    /// Whether both are held in memory (nothing asked of the database: a miss may still be in the catalog).
    public func holds(storeID: String, productID: String) -> Bool {
        storeIDs.withLock { $0.contains(storeID) } && productIDs.withLock { $0.contains(productID) }
    }

    public func hasStore(_ id: String) async throws -> Bool {
        if storeIDs.withLock({ $0.contains(id) }) { return true }
        guard try await store.store(id: id) != nil else { return false }
        addStore(id)
        return true
    }

    public func hasProduct(_ id: String) async throws -> Bool {
        if productIDs.withLock({ $0.contains(id) }) { return true }
        guard try await store.product(id: id) != nil else { return false }
        addProduct(id)
        return true
    }

    public var storeCount: Int { storeIDs.withLock { $0.count } }
    public var productCount: Int { productIDs.withLock { $0.count } }
}
