import BazaarDomain

/// A replenishment suggestion acted on in one call: the plan's orders become a purchase order (they then count as
/// incoming, so the plan stops suggesting them), or its transfers are made.
///
/// Both act on levels read a moment before, maybe from a replica: each line carries the bounds of what the plan read
/// (`PlannedBound`), checked under the rows' locks. Two calls acting on one plan at once (two managers, the dashboard
/// and an ERP), or a plan read before the store was replenished, would otherwise order or move twice. A line refused
/// that way (`planChanged`) refuses the call, nothing made, and the plan is read again, a few times, before the
/// refusal is answered (409 `plan-changed`); the second of two calls usually finds nothing left (409
/// `nothing-to-replenish`). A sale at the destination refuses nothing; a source that sold meanwhile gives what it can
/// still spare above its own order-up-to level (the transfer made smaller, its destination receiving as much), and is
/// refused only when it has nothing left to spare (then the plan is read again, which looks for another source).
public struct ReplenishmentActions: Sendable {
    let intelligence: IntelligenceService
    let orders: PurchaseOrderService

    public init(intelligence: IntelligenceService, orders: PurchaseOrderService) {
        self.intelligence = intelligence
        self.orders = orders
    }

    /// A purchase order of what the plan says to order: its first page (up to `PurchaseOrder.maxLines` items), or
    /// the items `productIDs` names wherever they are in it, with no transfers counted against it.
    ///
    /// With an `Idempotency-Key`, a retry answers the order the first call made (the plan, which that order changed,
    /// is not read again).
    public func purchaseOrder(storeID: String, supplier: String, reference: String?, expectedAtMillis: Int64?,
                              productIDs: Set<String>?, idempotencyKey: String?, scope: String) async throws -> PurchaseOrderChange {
        typealias Service = PurchaseOrderService
        let products = productIDs.map { $0.sorted().map { Service.field($0) }.joined() } ?? "*"
        let claim = try Service.claim(idempotencyKey, scope: scope, request: "po-plan/v1;\(Service.field(storeID))\(Service.field(supplier))"
                                      + "\(Service.field(reference))\(expectedAtMillis.map(String.init) ?? "-");\(products)")
        let earlier = { () async throws -> PurchaseOrderChange? in
            guard let claim, let order = try await orders.store.purchaseOrder(madeBy: claim) else { return nil }
            return PurchaseOrderChange(order: order, replayed: true)
        }
        if let made = try await earlier() { return made }
        return try await actOnPlan(replay: earlier) {
            let lines = try await plan(storeID: storeID, productIDs: productIDs, limit: PurchaseOrder.maxLines, forTransfers: false) { _ in false }
                .orders.filter { $0.quantity > 0 }
            guard !lines.isEmpty else { return nil }
            return try await orders.make(storeID: storeID, supplier: supplier, reference: reference, expectedAtMillis: expectedAtMillis,
                                         lines: lines.map { ($0.productID, Int64($0.quantity)) }, idempotency: claim,
                                         plannedPositions: Dictionary(lines.map { ($0.productID, $0.position) }) { first, _ in first })
        } nothingLeft: {
            DomainError.nothingToReplenish(storeID: storeID)
        }
    }

    /// Makes the plan's suggested transfers into the store (each a pair of ledger rows), from the stores `maySource`
    /// allows (those the caller may write), for its first page or the items `productIDs` names: one atomic write, so
    /// that all are made or none (a source with nothing left to spare refuses the call, not one line of it; one that
    /// sold meanwhile gives less, what it can still spare).
    ///
    /// With an `Idempotency-Key`, a retry (or the same call sent twice at once) answers the transfers the first call
    /// made, like any write (invariant 2): the key is claimed for the call's own parameters and looked up before the
    /// plan is read, whose suggestions the first call changed.
    public func transfers(storeID: String, productIDs: Set<String>?, actor: String, idempotencyKey: String?, scope: String,
                          maySource: @escaping @Sendable (String) -> Bool) async throws -> WriteReceipt {
        typealias Service = PurchaseOrderService
        let products = productIDs.map { $0.sorted().map { Service.field($0) }.joined() } ?? "*"
        let claim = try Service.claim(idempotencyKey, scope: scope, request: "transfer-plan/v1;\(Service.field(storeID));\(products)")
        let earlier = { () async throws -> WriteReceipt? in
            guard let claim else { return nil }
            return try await orders.stock.replay(claim)
        }
        if let made = try await earlier() { return made }
        return try await actOnPlan(replay: earlier) {
            let moves = try await plan(storeID: storeID, productIDs: productIDs, limit: StockService.maxTransfersPerWrite, forTransfers: true,
                                       mayShowStore: maySource)
                .transfers.filter { $0.quantity > 0 }
            guard !moves.isEmpty else { return nil }
            return try await orders.stock.transfers(moves.map {
                StockService.PlannedTransfer(from: $0.fromStoreID, to: storeID, productID: $0.productID, quantity: Int64($0.quantity),
                                             plan: ($0.sourceFloor, $0.destinationPosition))
            }, reference: "replenishment", actor: actor, idempotency: claim)
        } nothingLeft: {
            DomainError.nothingToReplenish(storeID: storeID)
        }
    }

    /// Reads the plan and acts on it (`attempt`: nil when the plan has nothing), again after `planChanged` up to
    /// `planReads` times (the destination replenished, or a source's whole excess drawn, between the read and the write). The
    /// plan is read on the primary: an action writes what it read, and a replica behind would give it a plan that is
    /// no longer true (refused by its bounds every time, or empty). Whenever the plan comes out empty or changed,
    /// `replay` is asked first: the same call sent twice at once, whose other try's commit is what emptied or changed it.
    private func actOnPlan<T>(replay: () async throws -> T?, attempt: () async throws -> T?,
                              nothingLeft: () -> DomainError) async throws -> T {
        for reading in 1... {
            do {
                if let made = try await ConsistencyScope.readingThePrimary({ try await attempt() }) { return made }
                if let made = try await replay() { return made }
                throw nothingLeft()
            } catch DomainError.planChanged where reading < Self.planReads {
                if let made = try await replay() { return made }
                try await Task.sleep(for: .milliseconds(5 * reading))  // let a burst of writes at these rows pass
            }
        }
        preconditionFailure("unreachable: the last reading returns or throws")
    }

    /// How many times an action reads the plan before `planChanged` is answered.
    static let planReads = 6

    /// The most pages of the plan the transfers of a call without `product_ids` read to find some (10,000 items):
    /// short items that no branch can supply stay at the front of the plan until they are ordered.
    static let maxPagesForTransfers = 100

    /// The plan's suggestions for `productIDs` wherever they are in it (a page of `limit` items read from each named
    /// product not yet covered: at most one page a product, whatever the store's size), or its first page for all
    /// (and for transfers the pages after it until some are found: `firstSuggestions`).
    func plan(storeID: String, productIDs: Set<String>?, limit: Int, forTransfers: Bool,
              mayShowStore: @escaping @Sendable (String) -> Bool) async throws
        -> (orders: [IntelligenceService.OrderSuggestion], transfers: [IntelligenceService.TransferSuggestion]) {
        guard let productIDs else {
            return try await firstSuggestions(storeID: storeID, limit: limit, forTransfers: forTransfers, mayShowStore: mayShowStore)
        }
        var orders: [IntelligenceService.OrderSuggestion] = [], transfers: [IntelligenceService.TransferSuggestion] = []
        var uncovered = productIDs.sorted()[...]
        while let first = uncovered.first {
            let page = try await intelligence.replenishment(storeID: storeID, afterProductID: Self.justBefore(first), limit: limit,
                                                            mayShowStore: mayShowStore)
            orders += page.orders.filter { productIDs.contains($0.productID) }
            transfers += page.transfers.filter { productIDs.contains($0.productID) }
            guard let next = page.nextAfterProductID else { break }  // the plan ends in this page
            uncovered = uncovered.drop { $0 <= next }
        }
        return (orders, transfers)
    }

    /// The plan's first page, and `forTransfers` the next pages too until `limit` transfers are found, the plan ends,
    /// or `maxPagesForTransfers` pages were read.
    private func firstSuggestions(storeID: String, limit: Int, forTransfers: Bool, mayShowStore: @escaping @Sendable (String) -> Bool) async throws
        -> (orders: [IntelligenceService.OrderSuggestion], transfers: [IntelligenceService.TransferSuggestion]) {
        let first = try await intelligence.replenishment(storeID: storeID, limit: limit, mayShowStore: mayShowStore)
        var transfers = first.transfers, after = first.nextAfterProductID, pages = 1
        while forTransfers, transfers.count < limit, let next = after, pages < Self.maxPagesForTransfers {
            let page = try await intelligence.replenishment(storeID: storeID, afterProductID: next, limit: limit, mayShowStore: mayShowStore)
            transfers += page.transfers
            after = page.nextAfterProductID
            pages += 1
        }
        return (first.orders, Array(transfers.prefix(limit)))
    }

    /// A bound that every identifier before `id` is at most and `id` is above (the plan pages by `product_id >
    /// after`): `id` with its last byte one less, then `~`, above every byte an identifier may hold (`Identifier`:
    /// ASCII letters, digits and `._:-`; ids compare byte by byte in both engines).
    static func justBefore(_ id: String) -> String {
        guard let last = id.utf8.last, last > 0 else { return "" }
        return String(decoding: Array(id.utf8.dropLast()) + [last - 1, UInt8(ascii: "~")], as: UTF8.self)
    }
}
