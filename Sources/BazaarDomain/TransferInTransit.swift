public enum TransferStatus: String, Sendable, Equatable, CaseIterable {
    case inTransit = "in_transit"
    case received
}

/// A transfer shipped now and received later (DESIGN.md, "Inventory states"): the `transfer_out` is recorded at the
/// source when it ships, the quantity counts as `incoming` at the destination meanwhile, and the `transfer_in` is
/// recorded when it arrives; what does not arrive is kept as `shortfall` (and alerted as shrinkage).
public struct TransferInTransit: Sendable, Equatable {
    public var sequence: Int64
    public var id: String
    public var fromStoreID: String
    public var toStoreID: String
    public var productID: String
    public var quantity: Int64
    public var status: TransferStatus
    public var received: Int64?
    public var reference: String?
    public var shippedMovementID: String?
    public var receivedMovementID: String?
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64

    public init(sequence: Int64 = 0, id: String, fromStoreID: String, toStoreID: String, productID: String, quantity: Int64,
                status: TransferStatus, received: Int64? = nil, reference: String?, shippedMovementID: String? = nil,
                receivedMovementID: String? = nil, createdAtMillis: Int64, updatedAtMillis: Int64) {
        self.sequence = sequence
        self.id = id
        self.fromStoreID = fromStoreID
        self.toStoreID = toStoreID
        self.productID = productID
        self.quantity = quantity
        self.status = status
        self.received = received
        self.reference = reference
        self.shippedMovementID = shippedMovementID
        self.receivedMovementID = receivedMovementID
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
    }

    /// Shipped and not received (nil until it is received).
    public var shortfall: Int64? { received.map { max(0, quantity - $0) } }

    public var json: String {
        """
        {"transfer_id":\(JSON.quoted(id)),"status":"\(status.rawValue)","from_store_id":\(JSON.quoted(fromStoreID)),\
        "to_store_id":\(JSON.quoted(toStoreID)),"product_id":\(JSON.quoted(productID)),"quantity":\(quantity),\
        "received":\(received.map(String.init) ?? "null"),"shortfall":\(shortfall.map(String.init) ?? "null"),\
        "reference":\(JSON.quotedOrNull(reference)),"shipped_movement_id":\(JSON.quotedOrNull(shippedMovementID)),\
        "received_movement_id":\(JSON.quotedOrNull(receivedMovementID)),"created_at":"\(RFC3339.format(millis: createdAtMillis))",\
        "updated_at":"\(RFC3339.format(millis: updatedAtMillis))"}
        """
    }

    public var eventID: String { id + ":" + status.rawValue }

    /// CloudEvents 1.0 on `bazaar.stock-movements`, keyed by the destination store (whose `incoming` it changes);
    /// `bazaarrevisions` as a purchase order's: `<product id>:<revision>` of the destination's row.
    public func cloudEventJSON(destinationRevision: Int64) -> String {
        """
        {"specversion":"1.0","type":"\(TransferEvent.type)","source":\(JSON.quoted("/stores/" + toStoreID)),\
        "id":\(JSON.quoted(eventID)),"time":"\(RFC3339.format(millis: updatedAtMillis))","datacontenttype":"application/json",\
        "bazaarrevisions":\(JSON.quoted("\(productID):\(destinationRevision)")),"data":\(json)}
        """
    }
}

public enum TransferEvent {
    public static let type = "bazaar.stock.transfer"
    /// The event's type as its payload spells it: a byte search finds it (see `ReservationEvent.containsBytes`).
    static let typeAttribute = Array("\"type\":\"\(type)\"".utf8)

    /// The destination row a transfer's event changed, with its revision (nil for any other event).
    public static func stockChange(in payload: String) -> (storeID: String, productID: String, revision: Int64)? {
        guard ReservationEvent.containsBytes(payload, typeAttribute), let event = JSONNode.parse(payload), event["type"]?.string == type,
            let store = event["data"]?["to_store_id"]?.string, let list = event["bazaarrevisions"]?.string,
            let colon = list.lastIndex(of: ":"), let revision = Int64(list[list.index(after: colon)...])
        else { return nil }
        return (store, String(list[..<colon]), revision)
    }
}
