/// One row of the movements ledger: the audit trail of a stock change. Immutable once committed.
public struct Movement: Sendable, Equatable, Codable {
    /// Position in the ledger (commit order on one database); cursors page on it.
    public var sequence: Int64
    public var movementID: String
    public var storeID: String
    public var productID: String
    public var delta: Int64
    public var quantityBefore: Int64
    public var quantityAfter: Int64
    /// The level's version after this movement.
    public var version: Int64
    public var reason: MovementReason
    public var reference: String?
    /// The API key's name (or the ingestion source) that made the change.
    public var actor: String
    /// When it happened: the source's `occurred_at`, else the commit time. Epoch milliseconds.
    public var atMillis: Int64
    /// When it was committed. Epoch milliseconds.
    public var recordedAtMillis: Int64

    public init(
        sequence: Int64, movementID: String, storeID: String, productID: String, delta: Int64,
        quantityBefore: Int64, quantityAfter: Int64, version: Int64, reason: MovementReason,
        reference: String?, actor: String, atMillis: Int64, recordedAtMillis: Int64
    ) {
        self.sequence = sequence
        self.movementID = movementID
        self.storeID = storeID
        self.productID = productID
        self.delta = delta
        self.quantityBefore = quantityBefore
        self.quantityAfter = quantityAfter
        self.version = version
        self.reason = reason
        self.reference = reference
        self.actor = actor
        self.atMillis = atMillis
        self.recordedAtMillis = recordedAtMillis
    }

    public var level: StockLevel {
        StockLevel(quantity: quantityAfter, version: version, updatedAtMillis: recordedAtMillis)
    }
}
