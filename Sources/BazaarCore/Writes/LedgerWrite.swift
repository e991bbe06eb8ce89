public import BazaarDomain

/// The primitive operations a storage engine offers inside one write transaction.
///
/// Implementations read with the row lock the engine needs (`SELECT ... FOR UPDATE` on MySQL; SQLite's single writer suffices).
public protocol LedgerTransaction {
    /// The movement ids recorded for an idempotency key, with the request fingerprint they were made for.
    mutating func idempotencyRecord(scope: String, key: String) throws -> (fingerprint: String, movementIDs: [String])?
    mutating func saveIdempotencyRecord(_ claim: IdempotencyClaim, movementIDs: [String], atMillis: Int64) throws
    /// Ledger rows by movement id, in the order asked.
    mutating func movements(ids: [String]) throws -> [Movement]
    mutating func lockLevel(storeID: String, productID: String) throws -> StockLevel?
    mutating func writeLevel(storeID: String, productID: String, level: StockLevel, isNew: Bool) throws
    /// Appends a ledger row and returns its sequence number.
    mutating func appendMovement(_ movement: Movement) throws -> Int64
    /// Queues the movement's event. The ledger row is immutable, so the outbox keeps only a reference to it
    /// and the event is rendered when published (half the bytes written per movement).
    mutating func appendMovementEvent(_ movement: Movement) throws
}

/// The one algorithm of a stock write, shared by every storage engine (invariants 1, 2, 3, 5):
/// replay or refuse a known idempotency key; apply each command to its locked level through `StockRules`;
/// append the ledger row and the outbox event; remember the idempotency key. The caller wraps it in a
/// transaction (or savepoint) and rolls back on any throw.
public enum LedgerWrite {
    /// Whether a refusal of `request` can happen after it has written rows. A single command is refused (if at
    /// all) before its first write, so it needs no savepoint; batches and transfers do.
    public static func needsSavepoint(_ request: WriteRequest) -> Bool {
        request.commands.count > 1
    }

    /// What the write that first used `claim`'s key made, replayed; nil for a key not used yet. A key used for
    /// another request (another fingerprint) is refused: invariant 2.
    public static func replay<T: LedgerTransaction>(_ claim: IdempotencyClaim, in tx: inout T) throws -> WriteReceipt? {
        guard let record = try tx.idempotencyRecord(scope: claim.scope, key: claim.key) else { return nil }
        guard record.fingerprint == claim.fingerprint else { throw DomainError.idempotencyKeyReused(key: claim.key) }
        return WriteReceipt(movements: try tx.movements(ids: record.movementIDs), replayed: true)
    }

    public static func apply<T: LedgerTransaction>(
        _ request: WriteRequest, in tx: inout T, nowMillis: Int64
    ) throws -> WriteReceipt {
        if let claim = request.idempotency, let earlier = try replay(claim, in: &tx) { return earlier }
        var movements: [Movement] = []
        var levels: [StockLevel] = []
        movements.reserveCapacity(request.commands.count)
        levels.reserveCapacity(request.commands.count)
        for command in request.commands {
            let current = try tx.lockLevel(storeID: command.storeID, productID: command.productID)
            let before = current ?? .empty
            let (delta, next) = try StockRules.apply(command, to: before, atMillis: nowMillis, previousDelta: movements.last?.delta)
            try tx.writeLevel(storeID: command.storeID, productID: command.productID, level: next, isNew: current == nil)
            var movement = Movement(
                sequence: 0, movementID: MovementID.next(nowMillis: nowMillis), storeID: command.storeID,
                productID: command.productID, delta: delta, quantityBefore: before.quantity, quantityAfter: next.quantity,
                version: next.version, reason: command.reason, reference: command.reference, actor: request.actor,
                atMillis: command.occurredAtMillis ?? nowMillis, recordedAtMillis: nowMillis)
            movement.sequence = try tx.appendMovement(movement)
            try tx.appendMovementEvent(movement)
            movements.append(movement)
            levels.append(next)
        }
        if let claim = request.idempotency {
            try tx.saveIdempotencyRecord(claim, movementIDs: movements.map(\.movementID), atMillis: nowMillis)
        }
        return WriteReceipt(movements: movements, replayed: false, levels: levels)
    }
}
