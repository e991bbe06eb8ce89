public import BazaarDomain
import Crypto

/// The use cases of purchase orders (DESIGN.md, "Inventory states"): create, receive, close, read. After each commit
/// the node's cache learns the stock rows' new states and the outbox relay wakes up.
public final class PurchaseOrderService: Sendable {
    public let stock: StockService
    public let store: any PurchaseOrderStore
    let clock: WallClock

    public init(stock: StockService, store: any PurchaseOrderStore, clock: WallClock = .system) {
        self.stock = stock
        self.store = store
        self.clock = clock
    }

    /// Purchase orders on the stock service's own storage (every engine implements `PurchaseOrderStore`).
    public convenience init(stock: StockService, clock: WallClock = .system) {
        guard let store = stock.store as? any PurchaseOrderStore else {
            preconditionFailure("\(type(of: stock.store)) does not store purchase orders")
        }
        self.init(stock: stock, store: store, clock: clock)
    }

    /// Makes an open order. With an `Idempotency-Key`, the same order sent again (by the same API key) answers the
    /// order the first made, marked `replayed`; a different order under that key is refused.
    public func create(storeID: String, supplier: String, reference: String?, expectedAtMillis: Int64?,
                       lines: [(productID: String, quantity: Int64)], idempotencyKey: String?, scope: String) async throws -> PurchaseOrderChange {
        var text = "po-create/v1;\(Self.field(storeID))\(Self.field(supplier))\(Self.field(reference))\(expectedAtMillis.map(String.init) ?? "-");"
        for line in lines.sorted(by: { $0.productID < $1.productID }) { text += "\(Self.field(line.productID))=\(line.quantity);" }
        let claim = try Self.claim(idempotencyKey, scope: scope, request: text)
        return try await make(storeID: storeID, supplier: supplier, reference: reference, expectedAtMillis: expectedAtMillis,
                              lines: lines, idempotency: claim)
    }

    /// The claim of an `Idempotency-Key` (nil without one) on a request described by `text`.
    static func claim(_ key: String?, scope: String, request text: String) throws -> IdempotencyClaim? {
        try key.map { key in
            IdempotencyClaim(scope: scope, key: try StockService.validateIdempotencyKey(key), fingerprint: Hex.encode(SHA256.hash(data: Array(text.utf8))))
        }
    }

    /// A value in a fingerprint's text, length first so that no two requests share one.
    static func field(_ value: String?) -> String {
        value.map { "\($0.utf8.count):\($0);" } ?? "-;"
    }

    func make(storeID: String, supplier: String, reference: String?, expectedAtMillis: Int64?,
              lines: [(productID: String, quantity: Int64)], idempotency: IdempotencyClaim?,
              plannedPositions: [String: Int64] = [:]) async throws -> PurchaseOrderChange {
        try Identifier.validate(storeID, field: "store_id")
        try CatalogRules.validateName(supplier, field: "supplier")
        try Self.validateReference(reference)
        try PurchaseOrder.validate(lines: lines)
        guard try await stock.catalog.hasStore(storeID) else { throw DomainError.unknownStore(storeID) }
        for line in lines { try await stock.requireCatalog(storeID: storeID, productID: line.productID) }
        let now = clock.nowMillis()
        let order = PurchaseOrder(
            id: PurchaseOrderID.next(), storeID: storeID, supplier: supplier, reference: reference, expectedAtMillis: expectedAtMillis,
            status: .open, lines: lines.map { PurchaseOrderLine(productID: $0.productID, quantity: $0.quantity) },
            createdAtMillis: now, updatedAtMillis: now)
        return await committed(try await store.createPurchaseOrder(order, idempotency: idempotency, plannedPositions: plannedPositions))
    }

    public func receive(id: String, lines: [(productID: String, quantity: Int64)], actor: String, idempotencyKey: String?,
                        scope: String) async throws -> PurchaseOrderChange {
        try PurchaseOrder.validate(lines: lines)
        let claim = try idempotencyKey.map { key in
            IdempotencyClaim(scope: scope, key: try StockService.validateIdempotencyKey(key), fingerprint: Self.fingerprint(id, lines))
        }
        let change = await committed(try await store.receivePurchaseOrder(id: id, lines: lines, actor: actor, idempotency: claim))
        if !change.replayed { for movement in change.movements { BazaarMetrics.movementApplied(reason: movement.reason.rawValue) } }
        return change
    }

    public func close(id: String) async throws -> PurchaseOrderChange {
        await committed(try await store.closePurchaseOrder(id: id))
    }

    public func order(id: String) async throws -> PurchaseOrder {
        guard let order = try await store.purchaseOrder(id: id) else { throw DomainError.notFound(what: "purchase order", id: id) }
        return order
    }

    public func orders(_ query: PurchaseOrderQuery) async throws -> [PurchaseOrder] {
        try await store.purchaseOrders(query)
    }

    private func committed(_ change: PurchaseOrderChange) async -> PurchaseOrderChange {
        guard !change.replayed else { return change }
        for (productID, level) in change.levels {
            await stock.cache.offer(StockKey(storeID: change.order.storeID, productID: productID), level)
        }
        stock.outboxSignal.notify()
        return change
    }

    static func validateReference(_ reference: String?) throws(DomainError) {
        guard let reference else { return }
        guard reference.unicodeScalars.count <= MovementCommand.maxReferenceLength else {
            throw .invalid(field: "reference", message: "must be at most \(MovementCommand.maxReferenceLength) characters")
        }
        guard !reference.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field: "reference", message: "must not contain control characters")
        }
    }

    static func fingerprint(_ id: String, _ lines: [(productID: String, quantity: Int64)]) -> String {
        var text = "po-receipt/v1;\(id.utf8.count):\(id);"
        for line in lines.sorted(by: { $0.productID < $1.productID }) { text += "\(line.productID.utf8.count):\(line.productID)=\(line.quantity);" }
        return Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }
}
