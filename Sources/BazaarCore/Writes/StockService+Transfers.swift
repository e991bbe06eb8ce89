public import BazaarDomain

/// Transfers between stores: a pair of ledger rows each, made in one atomic write.
extension StockService {
    /// A transfer is one atomic pair of ledger rows: `transfer_out` at the source, `transfer_in` at the destination.
    public func transfer(
        from source: String, to destination: String, productID: String, quantity: Int64, reference: String?,
        actor: String, idempotencyKey: String?, scope: String
    ) async throws -> WriteReceipt {
        let commands = try Self.transferCommands(from: source, to: destination, productID: productID, quantity: quantity, reference: reference,
                                                 bounds: (nil, nil))
        return try await write(commands, actor: actor, idempotencyKey: idempotencyKey, scope: scope)
    }

    /// The most transfers `transfers` makes in one write.
    public static let maxTransfersPerWrite = 100

    /// One transfer of `transfers`, with what the plan it was made from read, if any: the source's floor (its own
    /// order-up-to level) and the destination's inventory position. The source then gives `quantity`, or what it can
    /// still spare above its floor (`.sparesDownTo`), and the destination receives what it gave
    /// (`.receivesWhatTheSourceGave`); the write is refused with `planChanged` when the source has nothing to spare
    /// or the destination was replenished since. The two bounds are made here, together: one without the other would
    /// let a source give less than its destination receives.
    public struct PlannedTransfer: Sendable {
        public var from: String
        public var to: String
        public var productID: String
        public var quantity: Int64
        public var plan: (sourceFloor: Int64, destinationPosition: Int64)?

        public init(from: String, to: String, productID: String, quantity: Int64, plan: (sourceFloor: Int64, destinationPosition: Int64)? = nil) {
            (self.from, self.to, self.productID, self.quantity, self.plan) = (from, to, productID, quantity, plan)
        }

        var bounds: (source: PlannedBound?, destination: PlannedBound?) {
            guard let plan else { return (nil, nil) }
            return (.sparesDownTo(plan.sourceFloor), .receivesWhatTheSourceGave(positionAtMost: plan.destinationPosition))
        }
    }

    /// Several transfers as one atomic write, each a pair of ledger rows in the order given: all are made or none.
    /// `idempotency` is the caller's own claim, whose fingerprint names the call rather than these movements: a
    /// retry replays what the first call moved, even where the same call would now move something else.
    public func transfers(_ moves: [PlannedTransfer], reference: String?, actor: String, idempotency: IdempotencyClaim?) async throws -> WriteReceipt {
        let commands = try moves.flatMap { move in
            try Self.transferCommands(from: move.from, to: move.to, productID: move.productID, quantity: move.quantity, reference: reference,
                                      bounds: move.bounds)
        }
        try await requireCatalog(commands, limit: 2 * Self.maxTransfersPerWrite)
        let receipt = try await store.apply(WriteRequest(commands: commands, actor: actor, idempotency: idempotency))
        await applied([receipt])
        return receipt
    }

    /// What the write that first used `claim`'s key made, replayed (nil for a key not used yet), after which the
    /// cache answers nothing older than it: the first call may have committed and lost its answer before the cache
    /// learned its levels, as a replay through `write` would ensure too.
    public func replay(_ claim: IdempotencyClaim) async throws -> WriteReceipt? {
        guard let earlier = try await store.replay(claim) else { return nil }
        await applied([earlier])
        return earlier
    }

    private static func transferCommands(from source: String, to destination: String, productID: String, quantity: Int64,
                                         reference: String?, bounds: (source: PlannedBound?, destination: PlannedBound?)) throws -> [MovementCommand] {
        guard source != destination else {
            throw DomainError.invalid(field: "to_store_id", message: "must differ from from_store_id")
        }
        guard (1...MovementCommand.maxDelta).contains(quantity) else {
            throw DomainError.invalid(field: "quantity", message: "must be an integer from 1 to \(MovementCommand.maxDelta)")
        }
        // Named as the request names them: the two ledger commands below would call them `from_product_id`, `from_delta`.
        try Identifier.validate(source, field: "from_store_id")
        try Identifier.validate(destination, field: "to_store_id")
        _ = try MovementCommand(storeID: source, productID: productID, change: .delta(-quantity), reason: .transferOut, reference: reference)
        let out = try MovementCommand(
            storeID: source, productID: productID, change: .delta(-quantity), reason: .transferOut, reference: reference,
            planned: bounds.source, fieldPrefix: "from_")
        let into = try MovementCommand(
            storeID: destination, productID: productID, change: .delta(quantity), reason: .transferIn, reference: reference,
            planned: bounds.destination, fieldPrefix: "to_")
        return [out, into]
    }
}
