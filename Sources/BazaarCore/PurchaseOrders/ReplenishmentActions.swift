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
    ///
    /// Each line expects the revision of the stock row the plan read: two calls acting on the plan at once (two
    /// managers, say) would otherwise both order what only one should. A row that changed since refuses the order and
    /// the plan is read again, as for the plan's transfers.
    ///
    /// With an `Idempotency-Key`, a retry answers the order the first call made (the plan, which that order changed,
    /// is not read again).
    public func purchaseOrder(storeID: String, supplier: String, reference: String?, expectedAtMillis: Int64?,
                              productIDs: Set<String>?, idempotencyKey: String?, scope: String) async throws -> PurchaseOrderChange {
        typealias Service = PurchaseOrderService
        let products = productIDs.map { $0.sorted().map { Service.field($0) }.joined() } ?? "*"
        let claim = try Service.claim(idempotencyKey, scope: scope, request: "po-plan/v1;\(Service.field(storeID))\(Service.field(supplier))"
                                      + "\(Service.field(reference))\(expectedAtMillis.map(String.init) ?? "-");\(products)")
        if let claim, let earlier = try await orders.store.purchaseOrder(madeBy: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
        for attempt in 1... {
            let lines = try await plan(storeID: storeID, productIDs: productIDs, limit: PurchaseOrder.maxLines) { _ in false }
                .orders.filter { $0.quantity > 0 }
            guard !lines.isEmpty else {
                // The same call sent twice at once: the other one's order, committed since the look above, emptied the plan.
                if let claim, let earlier = try await orders.store.purchaseOrder(madeBy: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
                throw DomainError.nothingToReplenish(storeID: storeID)
            }
            do {
                return try await orders.make(storeID: storeID, supplier: supplier, reference: reference, expectedAtMillis: expectedAtMillis,
                                             lines: lines.map { ($0.productID, Int64($0.quantity)) }, idempotency: claim,
                                             expectedRevisions: Dictionary(lines.map { ($0.productID, $0.revision) }) { first, _ in first })
            } catch DomainError.versionConflict where attempt < Self.planReads {
                // The same call at once, with the same key: its order is what changed the rows.
                if let claim, let earlier = try await orders.store.purchaseOrder(madeBy: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
                try await Task.sleep(for: .milliseconds(10 * attempt))  // a replica catching up, a burst of sales passing
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    /// Makes the plan's suggested transfers into the store (each a pair of ledger rows), from the stores `maySource`
    /// allows (those the caller may write), for all of them or only `productIDs`: one atomic write, so that all are
    /// made or none (a source emptied meanwhile refuses the call, not one line of it).
    ///
    /// Each transfer expects the versions of the two levels the plan was read from: two calls acting on the plan at
    /// once (two managers, say) would otherwise both move what only one should. A level that changed since (the other
    /// call's transfers, a sale, a replica behind) refuses the write, and the plan is read again, a few times, before
    /// the conflict is answered (409 `version-conflict`); the second call usually finds nothing left to move.
    ///
    /// With an `Idempotency-Key`, a retry (or the same call sent twice at once) answers the transfers the first call
    /// made, like any write (invariant 2): the key is claimed for the call's own parameters and looked up before the
    /// plan is read, whose suggestions the first call changed.
    public func transfers(storeID: String, productIDs: Set<String>?, actor: String, idempotencyKey: String?, scope: String,
                          maySource: @escaping @Sendable (String) -> Bool) async throws -> WriteReceipt {
        typealias Service = PurchaseOrderService
        let products = productIDs.map { $0.sorted().map { Service.field($0) }.joined() } ?? "*"
        let claim = try Service.claim(idempotencyKey, scope: scope, request: "transfer-plan/v1;\(Service.field(storeID));\(products)")
        if let claim, let earlier = try await orders.stock.replay(claim) { return earlier }
        for attempt in 1... {
            let moves = try await plan(storeID: storeID, productIDs: productIDs, limit: StockService.maxTransfersPerWrite, mayShowStore: maySource)
                .transfers.filter { $0.quantity > 0 }
            guard !moves.isEmpty else {
                // The same call sent twice at once: the other one's transfers, committed since the look above, emptied the plan.
                if let claim, let earlier = try await orders.stock.replay(claim) { return earlier }
                throw DomainError.nothingToReplenish(storeID: storeID)
            }
            do {
                return try await orders.stock.transfers(moves.map {
                    StockService.PlannedTransfer(from: $0.fromStoreID, to: storeID, productID: $0.productID, quantity: Int64($0.quantity),
                                                 fromVersion: $0.fromVersion, toVersion: $0.toVersion)
                }, reference: "replenishment", actor: actor, idempotency: claim)
            } catch DomainError.versionConflict where attempt < Self.planReads {
                if let claim, let earlier = try await orders.stock.replay(claim) { return earlier }
                try await Task.sleep(for: .milliseconds(10 * attempt))  // a replica catching up, a burst of sales passing
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    /// The plan's suggestions for `productIDs` wherever they are in it (one page of `limit` items read from each named
    /// product not yet covered: at most one page a product, whatever the store's size), or its first page for all.
    func plan(storeID: String, productIDs: Set<String>?, limit: Int, mayShowStore: @escaping @Sendable (String) -> Bool) async throws
        -> (orders: [IntelligenceService.OrderSuggestion], transfers: [IntelligenceService.TransferSuggestion]) {
        guard let productIDs else {
            let page = try await intelligence.replenishment(storeID: storeID, limit: limit, mayShowStore: mayShowStore)
            return (page.orders, page.transfers)
        }
        var orders: [IntelligenceService.OrderSuggestion] = [], transfers: [IntelligenceService.TransferSuggestion] = []
        var uncovered = productIDs.sorted()[...]
        var reached = ""
        while let first = uncovered.first {
            // From `first`'s prefix (every id after it: `first` and what follows, ids comparing byte by byte), or from
            // where the last page ended if that is later (no item read twice).
            let page = try await intelligence.replenishment(storeID: storeID, afterProductID: max(String(first.dropLast()), reached),
                                                            limit: limit, mayShowStore: mayShowStore)
            orders += page.orders.filter { productIDs.contains($0.productID) }
            transfers += page.transfers.filter { productIDs.contains($0.productID) }
            guard let next = page.nextAfterProductID else { break }  // the plan ends in this page
            reached = next
            uncovered = uncovered.drop { $0 <= next }
        }
        return (orders, transfers)
    }

    /// How many times the plan's transfers read the plan before a version conflict is answered.
    static let planReads = 4
}
