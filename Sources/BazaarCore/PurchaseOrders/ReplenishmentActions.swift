import BazaarDomain

/// A replenishment suggestion acted on in one call: the plan's orders become a purchase order (they then count as
/// incoming, so the plan stops suggesting them), or its transfers are made.
public struct ReplenishmentActions: Sendable {
    let intelligence: IntelligenceService
    let orders: PurchaseOrderService

    public init(intelligence: IntelligenceService, orders: PurchaseOrderService) {
        self.intelligence = intelligence
        self.orders = orders
    }

    /// A purchase order of what the plan's first page (up to `PurchaseOrder.maxLines` items) says to order, for all
    /// of it or only `productIDs`, with no transfers counted against it.
    /// With an `Idempotency-Key`, a retry answers the order the first call made (the plan, which that order changed,
    /// is not read again).
    public func purchaseOrder(storeID: String, supplier: String, reference: String?, expectedAtMillis: Int64?,
                              productIDs: Set<String>?, idempotencyKey: String?, scope: String) async throws -> PurchaseOrderChange {
        typealias Service = PurchaseOrderService
        let products = productIDs.map { $0.sorted().map { Service.field($0) }.joined() } ?? "*"
        let claim = try Service.claim(idempotencyKey, scope: scope, request: "po-plan/v1;\(Service.field(storeID))\(Service.field(supplier))"
                                      + "\(Service.field(reference))\(expectedAtMillis.map(String.init) ?? "-");\(products)")
        if let claim, let earlier = try await orders.store.purchaseOrder(madeBy: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
        let page = try await intelligence.replenishment(storeID: storeID, limit: PurchaseOrder.maxLines) { _ in false }
        let lines = page.orders.filter { $0.quantity > 0 && (productIDs?.contains($0.productID) ?? true) }
        guard !lines.isEmpty else {
            // The same call sent twice at once: the other one's order, committed since the look above, emptied the plan.
            if let claim, let earlier = try await orders.store.purchaseOrder(madeBy: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
            throw DomainError.nothingToReplenish(storeID: storeID)
        }
        return try await orders.make(storeID: storeID, supplier: supplier, reference: reference, expectedAtMillis: expectedAtMillis,
                                     lines: lines.map { ($0.productID, Int64($0.quantity)) }, idempotency: claim)
    }

    /// Makes the plan's suggested transfers into the store (each a pair of ledger rows), from the stores `maySource`
    /// allows (those the caller may write), for all of them or only `productIDs`: one atomic write, so that all are
    /// made or none (a source emptied meanwhile refuses the call, not one line of it).
    ///
    /// With an `Idempotency-Key`, a retry (or the same call sent twice at once: both read the plan before either
    /// moved anything) answers the transfers the first call made, like any write (invariant 2): the key is claimed
    /// for the call's own parameters and looked up before the plan is read, whose suggestions the first call changed.
    public func transfers(storeID: String, productIDs: Set<String>?, actor: String, idempotencyKey: String?, scope: String,
                          maySource: @escaping @Sendable (String) -> Bool) async throws -> WriteReceipt {
        typealias Service = PurchaseOrderService
        let products = productIDs.map { $0.sorted().map { Service.field($0) }.joined() } ?? "*"
        let claim = try Service.claim(idempotencyKey, scope: scope, request: "transfer-plan/v1;\(Service.field(storeID));\(products)")
        if let claim, let earlier = try await orders.stock.store.replay(claim) { return earlier }
        let page = try await intelligence.replenishment(storeID: storeID, limit: StockService.maxTransfersPerWrite, mayShowStore: maySource)
        let moves = page.transfers.filter { $0.quantity > 0 && (productIDs?.contains($0.productID) ?? true) }
        guard !moves.isEmpty else {
            // The same call sent twice at once: the other one's transfers, committed since the look above, emptied the plan.
            if let claim, let earlier = try await orders.stock.store.replay(claim) { return earlier }
            throw DomainError.nothingToReplenish(storeID: storeID)
        }
        return try await orders.stock.transfers(moves.map { ($0.fromStoreID, storeID, $0.productID, Int64($0.quantity)) },
                                                reference: "replenishment", actor: actor, idempotency: claim)
    }
}
