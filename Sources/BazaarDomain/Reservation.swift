/// Where a reservation is in its life: `active` holds stock; the other three are final.
public enum ReservationStatus: String, Sendable, Equatable, CaseIterable, Codable {
    case active, fulfilled, released, expired
}

/// Stock held for a customer (a web shop's basket, a click-and-collect order): it counts in `reserved` while active,
/// so `available` (on hand less reserved) tells what can still be promised (DESIGN.md, "Inventory states").
public struct Reservation: Sendable, Equatable {
    public static let minExpiresInSeconds: Int64 = 60
    public static let maxExpiresInSeconds: Int64 = 604_800
    public static let defaultExpiresInSeconds: Int64 = 900
    public static let maxQuantity: Int64 = MovementCommand.maxDelta

    /// Position in creation order (the listing's cursor); 0 before it is stored.
    public var sequence: Int64
    public var id: String
    public var storeID: String
    public var productID: String
    public var quantity: Int64
    public var status: ReservationStatus
    public var reference: String?
    public var expiresAtMillis: Int64
    public var createdAtMillis: Int64
    /// When it last changed status (its creation while active).
    public var updatedAtMillis: Int64
    /// The `sale` that fulfilled it.
    public var movementID: String?

    public init(sequence: Int64 = 0, id: String, storeID: String, productID: String, quantity: Int64, status: ReservationStatus,
                reference: String?, expiresAtMillis: Int64, createdAtMillis: Int64, updatedAtMillis: Int64, movementID: String? = nil) {
        self.sequence = sequence
        self.id = id
        self.storeID = storeID
        self.productID = productID
        self.quantity = quantity
        self.status = status
        self.reference = reference
        self.expiresAtMillis = expiresAtMillis
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
        self.movementID = movementID
    }

    /// Refuses a fulfilment unless the reservation is active and its hold has not run out at `millis`: the sweep
    /// that marks it `expired` runs about every second, and a sale against a hold that has run out must not be
    /// taken in that second (its quantity is no longer promised).
    public func requireFulfillable(atMillis millis: Int64) throws(DomainError) {
        guard status == .active else { throw .reservationNotActive(id: id, status: status.rawValue) }
        guard millis < expiresAtMillis else { throw .reservationNotActive(id: id, status: ReservationStatus.expired.rawValue) }
    }

    /// Checks what a client asks for (the id and times are the server's).
    public static func validate(storeID: String, productID: String, quantity: Int64, expiresInSeconds: Int64,
                                reference: String?) throws(DomainError) {
        try Identifier.validate(storeID, field: "store_id")
        try Identifier.validate(productID, field: "product_id")
        guard quantity > 0, quantity <= maxQuantity else {
            throw .invalid(field: "quantity", message: "must be an integer from 1 to \(maxQuantity)")
        }
        guard (minExpiresInSeconds...maxExpiresInSeconds).contains(expiresInSeconds) else {
            throw .invalid(field: "expires_in_seconds", message: "must be an integer from \(minExpiresInSeconds) to \(maxExpiresInSeconds)")
        }
        if let reference {
            guard reference.unicodeScalars.count <= MovementCommand.maxReferenceLength else {
                throw .invalid(field: "reference", message: "must be at most \(MovementCommand.maxReferenceLength) characters")
            }
            guard !reference.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw .invalid(field: "reference", message: "must not contain control characters")
            }
        }
    }

    /// The answer of the reservation endpoints, and the `data` of its events.
    public var json: String {
        """
        {"reservation_id":\(JSON.quoted(id)),"store_id":\(JSON.quoted(storeID)),"product_id":\(JSON.quoted(productID)),\
        "quantity":\(quantity),"status":"\(status.rawValue)","reference":\(JSON.quotedOrNull(reference)),\
        "expires_at":"\(RFC3339.format(millis: expiresAtMillis))","created_at":"\(RFC3339.format(millis: createdAtMillis))",\
        "updated_at":"\(RFC3339.format(millis: updatedAtMillis))","movement_id":\(JSON.quotedOrNull(movementID))}
        """
    }

    /// The id of the event of its current status: one event per change, so consumers deduplicate by id.
    public var eventID: String { id + ":" + status.rawValue }

    /// CloudEvents 1.0 on `bazaar.stock-movements` (key: the store id). `bazaarrevision` is the stock row's revision
    /// after the change, so that a node's cache can tell whether it already holds that state.
    public func cloudEventJSON(stockRevision: Int64) -> String {
        """
        {"specversion":"1.0","type":"\(ReservationEvent.type)","source":\(JSON.quoted("/stores/" + storeID)),\
        "id":\(JSON.quoted(eventID)),"time":"\(RFC3339.format(millis: updatedAtMillis))",\
        "subject":\(JSON.quoted("/products/" + productID)),"datacontenttype":"application/json",\
        "bazaarrevision":"\(stockRevision)","data":\(json)}
        """
    }
}

public enum ReservationEvent {
    public static let type = "bazaar.stock.reservation"
    /// The event's type as its payload spells it: a byte search finds it (see `ReservationEvent.containsBytes`).
    static let typeAttribute = Array("\"type\":\"\(type)\"".utf8)
    public static let topic = MovementEvent.topic

    /// The store, product and stock revision of a reservation event's payload (nil for any other event).
    public static func stockChange(in payload: String) -> (storeID: String, productID: String, revision: Int64)? {
        guard ReservationEvent.containsBytes(payload, typeAttribute), let event = JSONNode.parse(payload), event["type"]?.string == type,
            let data = event["data"], let store = data["store_id"]?.string, let product = data["product_id"]?.string,
            let revision = event["bazaarrevision"]?.string.flatMap({ Int64($0) })
        else { return nil }
        return (store, product, revision)
    }

    /// Whether a payload on the movements topic is anything but a movement (a reservation's, say): consumers of
    /// movements pass over it.
    public static func isOtherThanMovement(_ payload: String) -> Bool {
        !containsBytes(payload, movementType) && containsBytes(payload, stockEventType)
    }

    private static let movementType = Array("\"type\":\"\(MovementEvent.type)\"".utf8)
    private static let stockEventType = Array("\"type\":\"bazaar.stock.".utf8)

    /// Whether `needle`'s bytes occur in `text`'s UTF-8 (the patterns are ASCII: a byte search, not `String.contains`,
    /// which compares by Character and cost more than the rest of a consumed event's checks).
    static func containsBytes(_ text: String, _ needle: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let first = needle.first, bytes.count >= needle.count else { return needle.isEmpty }
            var i = 0
            let last = bytes.count - needle.count
            while i <= last {
                if bytes[i] == first {
                    var j = 1
                    while j < needle.count, bytes[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return true }
                }
                i += 1
            }
            return false
        }
    }
}
