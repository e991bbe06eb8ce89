/// Everything the domain can refuse, with enough detail for a client to fix its request.
///
/// The HTTP layer maps each case to a status and a problem type; the domain itself knows nothing of HTTP.
public enum DomainError: Error, Equatable, Sendable {
    /// The request is malformed: `field` names what to fix (a JSON pointer-like path, a header or a parameter).
    case invalid(field: String, message: String)
    case unknownStore(String)
    case unknownProduct(String)
    case notFound(what: String, id: String)
    /// `expected_version` did not match the current version.
    case versionConflict(storeID: String, productID: String, expected: Int64, actual: Int64)
    /// A command (adjustment, damage, transfer_out) would take the level below zero.
    case insufficientStock(storeID: String, productID: String, available: Int64, requested: Int64)
    /// A reservation asked for more than `available` (on hand less what active reservations hold).
    case insufficientAvailable(storeID: String, productID: String, available: Int64, requested: Int64)
    /// A reservation that is no longer active (fulfilled, released or expired) cannot be fulfilled or released.
    case reservationNotActive(id: String, status: String)
    /// A purchase order that was closed takes no receipt and cannot be closed again.
    case purchaseOrderClosed(id: String)
    /// The store's replenishment plan has nothing to order or move (for the products asked).
    case nothingToReplenish(storeID: String)
    /// A level the replenishment plan was read from changed in a way that makes its suggestion wrong (the destination
    /// replenished meanwhile, the source's excess drawn): see `PlannedBound`.
    case planChanged(storeID: String, productID: String)
    /// A transfer in transit is received once.
    case transferAlreadyReceived(id: String)
    /// The same idempotency key was sent earlier with a different request.
    case idempotencyKeyReused(key: String)
    /// An active API key already has this name: the audit trail names actors by their key's name.
    case apiKeyNameTaken(name: String)
    case unauthorized(String)
    case forbidden(String)
}

extension DomainError {
    /// A short label used for metrics (`bazaar_rejections_total{reason=...}`) and logs.
    public var metricReason: String {
        switch self {
        case .invalid: "invalid"
        case .unknownStore, .unknownProduct, .notFound: "not_found"
        case .versionConflict: "version_conflict"
        case .insufficientStock: "insufficient_stock"
        case .insufficientAvailable: "insufficient_available"
        case .reservationNotActive: "reservation_not_active"
        case .purchaseOrderClosed: "purchase_order_closed"
        case .nothingToReplenish: "nothing_to_replenish"
        case .planChanged: "plan_changed"
        case .transferAlreadyReceived: "transfer_already_received"
        case .idempotencyKeyReused: "idempotency_key_reused"
        case .apiKeyNameTaken: "api_key_name_taken"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        }
    }
}
