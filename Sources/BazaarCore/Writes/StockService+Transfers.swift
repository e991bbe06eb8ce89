public import BazaarDomain

/// Transfers between stores: a pair of ledger rows each, made in one atomic write.
extension StockService {
    /// A transfer is one atomic pair of ledger rows: `transfer_out` at the source, `transfer_in` at the destination.
    public func transfer(
        from source: String, to destination: String, productID: String, quantity: Int64, reference: String?,
        actor: String, idempotencyKey: String?, scope: String
    ) async throws -> WriteReceipt {
        let commands = try Self.transferCommands(from: source, to: destination, productID: productID, quantity: quantity, reference: reference)
        return try await write(commands, actor: actor, idempotencyKey: idempotencyKey, scope: scope)
    }

    /// The most transfers `transfers` makes in one write.
    public static let maxTransfersPerWrite = 100

    /// Several transfers as one atomic write, each a pair of ledger rows in the order given: all are made or none.
    /// `idempotency` is the caller's own claim, whose fingerprint names the call rather than these movements: a
    /// retry replays what the first call moved, even where the same call would now move something else.
    public func transfers(
        _ moves: [(from: String, to: String, productID: String, quantity: Int64)], reference: String?, actor: String,
        idempotency: IdempotencyClaim?
    ) async throws -> WriteReceipt {
        let commands = try moves.flatMap { move in
            try Self.transferCommands(from: move.from, to: move.to, productID: move.productID, quantity: move.quantity, reference: reference)
        }
        try await requireCatalog(commands, limit: 2 * Self.maxTransfersPerWrite)
        let receipt = try await store.apply(WriteRequest(commands: commands, actor: actor, idempotency: idempotency))
        await applied([receipt])
        return receipt
    }

    private static func transferCommands(from source: String, to destination: String, productID: String, quantity: Int64,
                                         reference: String?) throws -> [MovementCommand] {
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
            fieldPrefix: "from_")
        let into = try MovementCommand(
            storeID: destination, productID: productID, change: .delta(quantity), reason: .transferIn, reference: reference,
            fieldPrefix: "to_")
        return [out, into]
    }
}
