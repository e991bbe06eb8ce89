public import BazaarDomain

/// A committed change of a transfer in transit: the transfer as it is now, the stock rows it changed (store, product,
/// level), and its movement (the `transfer_out` when shipped, the `transfer_in` when received, if any arrived).
public struct TransferChange: Sendable {
    public var transfer: TransferInTransit
    public var levels: [(storeID: String, level: StockLevel)]
    public var movement: Movement?
    public var replayed: Bool

    public init(transfer: TransferInTransit, levels: [(storeID: String, level: StockLevel)] = [], movement: Movement? = nil, replayed: Bool = false) {
        self.transfer = transfer
        self.levels = levels
        self.movement = movement
        self.replayed = replayed
    }

    /// A shipment whose idempotency key was seen before answers the transfer its movement made (`earlier`, found by
    /// that movement); none found means the key was used for another kind of write.
    public static func replayedShipment(_ receipt: WriteReceipt, earlier: TransferInTransit?, idempotency: IdempotencyClaim?) throws -> TransferChange {
        guard let earlier else { throw DomainError.idempotencyKeyReused(key: idempotency?.key ?? "") }
        return TransferChange(transfer: earlier, movement: receipt.movements[0], replayed: true)
    }
}

/// Storage of transfers in transit, beside `StockStore` (both engines). Shipping records the `transfer_out` through
/// `LedgerWrite` (refused when `available` at the source is short) and adds the quantity to the destination's
/// `incoming`; receiving records the `transfer_in` of what arrived and takes the whole shipment out of `incoming`.
/// Each is one transaction (MySQL: the stock rows in key order, then the transfer, `ledger_clock` last).
public protocol TransferStore: Sendable {
    func shipTransfer(_ transfer: TransferInTransit, actor: String, idempotency: IdempotencyClaim?) async throws -> TransferChange
    /// `quantity` nil: all that was shipped. More than shipped is refused (422); `transferAlreadyReceived` the second time.
    func receiveTransfer(id: String, quantity: Int64?, actor: String) async throws -> TransferChange
    func transfer(id: String) async throws -> TransferInTransit?
    /// The quantity in transit to one store x product (the incoming check).
    func inTransitTotal(storeID: String, productID: String) async throws -> Int64
}

public enum TransferID {
    public static func next() -> String { "trf_" + Hex.random(bytes: 10) }
}

extension TransferInTransit {
    /// The shipment's ledger command: `transfer_out` at the source, referencing the transfer.
    public func shipmentCommand() throws -> MovementCommand {
        try MovementCommand(storeID: fromStoreID, productID: productID, change: .delta(-quantity), reason: .transferOut,
                            reference: reference ?? id, fieldPrefix: "from_")
    }

    /// What arrives: checked against what was shipped.
    public func arrival(_ quantity: Int64?) throws -> Int64 {
        let arrived = quantity ?? self.quantity
        guard arrived >= 0, arrived <= self.quantity else {
            throw DomainError.invalid(field: "quantity", message: "must be an integer from 0 to the \(self.quantity) shipped")
        }
        return arrived
    }

    public func arrivalCommand(_ arrived: Int64) throws -> MovementCommand {
        try MovementCommand(storeID: toStoreID, productID: productID, change: .delta(arrived), reason: .transferIn, reference: reference ?? id)
    }
}
