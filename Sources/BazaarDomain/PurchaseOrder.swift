public enum PurchaseOrderStatus: String, Sendable, Equatable, CaseIterable, Codable {
    case open
    case partiallyReceived = "partially_received"
    case received, closed
}

public struct PurchaseOrderLine: Sendable, Equatable {
    public var productID: String
    public var quantity: Int64
    public var received: Int64

    public init(productID: String, quantity: Int64, received: Int64 = 0) {
        self.productID = productID
        self.quantity = quantity
        self.received = received
    }

    /// What is still on its way: counted in the store's `incoming` while the order is not closed.
    public var outstanding: Int64 { max(0, quantity - received) }
}

/// Goods ordered from a supplier for one store (DESIGN.md, "Inventory states"): what is not yet received counts as
/// `incoming` until the order is received in full or closed; each receipt line is a `receipt` movement.
public struct PurchaseOrder: Sendable, Equatable {
    public static let maxLines = 100
    public static let maxQuantity: Int64 = MovementCommand.maxDelta

    public var sequence: Int64
    public var id: String
    public var storeID: String
    public var supplier: String
    public var reference: String?
    public var expectedAtMillis: Int64?
    public var status: PurchaseOrderStatus
    /// In product id order.
    public var lines: [PurchaseOrderLine]
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64

    public init(sequence: Int64 = 0, id: String, storeID: String, supplier: String, reference: String?, expectedAtMillis: Int64?,
                status: PurchaseOrderStatus, lines: [PurchaseOrderLine], createdAtMillis: Int64, updatedAtMillis: Int64) {
        self.sequence = sequence
        self.id = id
        self.storeID = storeID
        self.supplier = supplier
        self.reference = reference
        self.expectedAtMillis = expectedAtMillis
        self.status = status
        self.lines = lines.sorted { $0.productID < $1.productID }
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
    }

    /// Whether its outstanding quantities count as incoming.
    public var isOpen: Bool { status == .open || status == .partiallyReceived }

    /// Lines received beyond what was ordered.
    public var overReceived: [PurchaseOrderLine] { lines.filter { $0.received > $0.quantity } }

    /// The status after receipts: received once every line is received in full.
    public var statusFromLines: PurchaseOrderStatus {
        lines.allSatisfy { $0.received >= $0.quantity } ? .received : (lines.contains { $0.received > 0 } ? .partiallyReceived : .open)
    }

    /// Checks the lines of an order or a receipt: 1 to `maxLines`, products distinct and valid, quantities 1 to `maxQuantity`.
    public static func validate(lines: [(productID: String, quantity: Int64)]) throws(DomainError) {
        guard !lines.isEmpty, lines.count <= maxLines else {
            throw .invalid(field: "lines", message: "must hold 1 to \(maxLines) lines (got \(lines.count))")
        }
        var seen = Set<String>()
        for (index, line) in lines.enumerated() {
            try Identifier.validate(line.productID, field: "lines[\(index)].product_id")
            guard seen.insert(line.productID).inserted else {
                throw .invalid(field: "lines[\(index)].product_id", message: "appears twice; one line per product")
            }
            guard line.quantity > 0, line.quantity <= maxQuantity else {
                throw .invalid(field: "lines[\(index)].quantity", message: "must be an integer from 1 to \(maxQuantity)")
            }
        }
    }

    public var json: String {
        let lines = self.lines.map { line in
            "{\"product_id\":\(JSON.quoted(line.productID)),\"quantity\":\(line.quantity),\"received\":\(line.received)}"
        }
        return """
            {"purchase_order_id":\(JSON.quoted(id)),"store_id":\(JSON.quoted(storeID)),"supplier":\(JSON.quoted(supplier)),\
            "reference":\(JSON.quotedOrNull(reference)),"expected_at":\(expectedAtMillis.map { "\"\(RFC3339.format(millis: $0))\"" } ?? "null"),\
            "status":"\(status.rawValue)","lines":[\(lines.joined(separator: ","))],\
            "created_at":"\(RFC3339.format(millis: createdAtMillis))","updated_at":"\(RFC3339.format(millis: updatedAtMillis))"}
            """
    }

    /// One event per change: the status and how much has been received in all tell the changes apart.
    public var eventID: String { "\(id):\(status.rawValue):\(lines.reduce(Int64(0)) { $0 + $1.received })" }

    /// CloudEvents 1.0 on `bazaar.stock-movements`; `bazaarrevisions` lists `<product id>:<stock row revision>` of the rows
    /// the change touched (comma-separated: commas are outside the identifier alphabet).
    public func cloudEventJSON(revisions: [(productID: String, revision: Int64)]) -> String {
        """
        {"specversion":"1.0","type":"\(PurchaseOrderEvent.type)","source":\(JSON.quoted("/stores/" + storeID)),\
        "id":\(JSON.quoted(eventID)),"time":"\(RFC3339.format(millis: updatedAtMillis))","datacontenttype":"application/json",\
        "bazaarrevisions":\(JSON.quoted(revisions.map { "\($0.productID):\($0.revision)" }.joined(separator: ","))),"data":\(json)}
        """
    }
}

public enum PurchaseOrderEvent {
    public static let type = "bazaar.stock.purchase-order"
    /// The event's type as its payload spells it: a byte search finds it (see `ReservationEvent.containsBytes`).
    static let typeAttribute = Array("\"type\":\"\(type)\"".utf8)

    /// The stock rows a purchase order's event changed, with their revisions (nil for any other event).
    public static func stockChanges(in payload: String) -> (storeID: String, rows: [(productID: String, revision: Int64)])? {
        guard ReservationEvent.containsBytes(payload, typeAttribute), let event = JSONNode.parse(payload), event["type"]?.string == type,
            let store = event["data"]?["store_id"]?.string, let list = event["bazaarrevisions"]?.string
        else { return nil }
        let rows = list.split(separator: ",").compactMap { item -> (String, Int64)? in
            guard let colon = item.lastIndex(of: ":"), let revision = Int64(item[item.index(after: colon)...]) else { return nil }
            return (String(item[..<colon]), revision)
        }
        return (store, rows)
    }
}
