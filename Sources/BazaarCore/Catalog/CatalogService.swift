public import BazaarDomain

/// The use cases of the catalog: stores and products created, replaced and read. A PUT replaces the whole
/// record; fields left out take their defaults. Every id saved here is known to the node's `CatalogIndex` at once,
/// so the stock paths find it without a query.
public final class CatalogService: Sendable {
    let store: any CatalogStore
    public let index: CatalogIndex
    let clock: WallClock
    /// The fill-rate target of a product whose PUT sets neither `service_level` nor `fill_rate`
    /// (`intelligence.default_fill_rate`); nil: such a product gets the cycle service level `Product.defaultServiceLevel`.
    let defaultFillRate: Double?

    public init(store: any CatalogStore, index: CatalogIndex, clock: WallClock = .system, defaultFillRate: Double? = nil) {
        self.store = store
        self.index = index
        self.clock = clock
        self.defaultFillRate = defaultFillRate
    }

    /// What a caller may set of a product; nil takes the default.
    public struct ProductDraft: Sendable {
        public var name: String
        public var attributesJSON: String
        public var leadTimeDays: Int?
        public var reviewPeriodDays: Int?
        public var packSize: Int?
        public var serviceLevel: Double?
        /// A fill-rate target instead of `serviceLevel` (at most one of the two).
        public var fillRate: Double?

        public init(name: String, attributesJSON: String = "{}", leadTimeDays: Int? = nil, reviewPeriodDays: Int? = nil,
                    packSize: Int? = nil, serviceLevel: Double? = nil, fillRate: Double? = nil) {
            self.name = name
            self.attributesJSON = attributesJSON
            self.leadTimeDays = leadTimeDays
            self.reviewPeriodDays = reviewPeriodDays
            self.packSize = packSize
            self.serviceLevel = serviceLevel
            self.fillRate = fillRate
        }
    }

    /// Creates or replaces a store; `created` is false for a replacement. The answer is the row as stored (its
    /// `created_at` is the first creation's).
    public func putStore(id: String, name: String, attributesJSON: String) async throws -> (store: Store, created: Bool) {
        try CatalogRules.validateName(name)
        let now = clock.nowMillis()
        let created = try await store.upsertStore(
            Store(id: id, name: name, attributesJSON: attributesJSON, createdAtMillis: now, updatedAtMillis: now))
        index.addStore(id)
        return (try await ConsistencyScope.readingOwnWrite { try await self.store(id: id) }, created)
    }

    /// The store, or `DomainError.unknownStore`.
    public func store(id: String) async throws -> Store {
        guard let found = try await store.store(id: id) else { throw DomainError.unknownStore(id) }
        return found
    }

    /// Stores in id order after `afterID`, at most `limit`.
    public func stores(afterID: String?, limit: Int) async throws -> [Store] {
        try await store.stores(afterID: afterID, limit: limit)
    }

    /// Creates or replaces a product, its replenishment parameters checked with their defaults applied.
    public func putProduct(id: String, _ draft: ProductDraft) async throws -> (product: Product, created: Bool) {
        try CatalogRules.validateName(draft.name)
        try CatalogRules.validateOneTarget(serviceLevel: draft.serviceLevel, fillRate: draft.fillRate)
        let now = clock.nowMillis()
        let product = Product(
            id: id, name: draft.name, attributesJSON: draft.attributesJSON,
            leadTimeDays: draft.leadTimeDays ?? Product.defaultLeadTimeDays,
            reviewPeriodDays: draft.reviewPeriodDays ?? Product.defaultReviewPeriodDays,
            packSize: draft.packSize ?? Product.defaultPackSize, serviceLevel: draft.serviceLevel ?? Product.defaultServiceLevel,
            fillRate: draft.fillRate ?? (draft.serviceLevel == nil ? defaultFillRate : nil), createdAtMillis: now, updatedAtMillis: now)
        try CatalogRules.validateReplenishment(
            leadTimeDays: product.leadTimeDays, reviewPeriodDays: product.reviewPeriodDays, packSize: product.packSize,
            serviceLevel: product.serviceLevel)
        let created = try await store.upsertProduct(product)
        index.addProduct(id)
        return (try await ConsistencyScope.readingOwnWrite { try await self.product(id: id) }, created)
    }

    /// The product, or `DomainError.unknownProduct`.
    public func product(id: String) async throws -> Product {
        guard let found = try await store.product(id: id) else { throw DomainError.unknownProduct(id) }
        return found
    }

    /// Products in id order after `afterID`, at most `limit`.
    public func products(afterID: String?, limit: Int) async throws -> [Product] {
        try await store.products(afterID: afterID, limit: limit)
    }
}
