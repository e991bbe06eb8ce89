import BazaarCore
import BazaarDomain

// Reservations, purchase orders and transfers in transit (DESIGN.md, "Inventory states"). Each object is also the
// `data` of its event on `bazaar.stock-movements`, rendered by the domain (`Reservation.json`,
// `PurchaseOrder.json`, `TransferInTransit.json`); `TypedAnswerTests` keeps the two equal.

struct ReservationAnswer: FieldAnswer {
    let reservation: Reservation

    var fields: [(String, any Encodable)] {
        let r = reservation
        return [("reservation_id", r.id), ("store_id", r.storeID), ("product_id", r.productID), ("quantity", r.quantity),
                ("status", r.status.rawValue), ("reference", r.reference), ("expires_at", AnswerValue.time(r.expiresAtMillis)),
                ("created_at", AnswerValue.time(r.createdAtMillis)), ("updated_at", AnswerValue.time(r.updatedAtMillis)),
                ("movement_id", r.movementID)]
    }
}

struct PurchaseOrderAnswer: FieldAnswer {
    let order: PurchaseOrder

    /// A line: ordered and received so far (or, in a receipt's `over_received`, received beyond what was ordered).
    struct Line: FieldAnswer {
        let line: PurchaseOrderLine
        var receivedKey = "received"
        var orderedKey = "quantity"

        var fields: [(String, any Encodable)] {
            [("product_id", line.productID), (orderedKey, line.quantity), (receivedKey, line.received)]
        }
    }

    var fields: [(String, any Encodable)] {
        let o = order
        return [("purchase_order_id", o.id), ("store_id", o.storeID), ("supplier", o.supplier), ("reference", o.reference),
                ("expected_at", AnswerValue.time(o.expectedAtMillis)), ("status", o.status.rawValue),
                ("lines", o.lines.map { Line(line: $0) }), ("created_at", AnswerValue.time(o.createdAtMillis)),
                ("updated_at", AnswerValue.time(o.updatedAtMillis))]
    }
}

/// A receipt against a purchase order: the order after it, the `receipt` movements it recorded, and the lines
/// received beyond what was ordered.
struct PurchaseOrderReceiptAnswer: FieldAnswer {
    let order: PurchaseOrder
    let movements: [Movement]

    var fields: [(String, any Encodable)] {
        [("purchase_order", PurchaseOrderAnswer(order: order)), ("movements", movements.map(WriteAnswer.init)),
         ("over_received", order.overReceived.map { PurchaseOrderAnswer.Line(line: $0, orderedKey: "ordered") })]
    }
}

struct TransferAnswer: FieldAnswer {
    let transfer: TransferInTransit

    var fields: [(String, any Encodable)] {
        let t = transfer
        return [("transfer_id", t.id), ("status", t.status.rawValue), ("from_store_id", t.fromStoreID), ("to_store_id", t.toStoreID),
                ("product_id", t.productID), ("quantity", t.quantity), ("received", t.received), ("shortfall", t.shortfall),
                ("reference", t.reference), ("shipped_movement_id", t.shippedMovementID),
                ("received_movement_id", t.receivedMovementID), ("created_at", AnswerValue.time(t.createdAtMillis)),
                ("updated_at", AnswerValue.time(t.updatedAtMillis))]
    }
}

/// The transfers a replenishment plan made in one write, its movements a pair a transfer (out, then in):
/// `{"transfers": [{"from", "to"}]}`.
struct TransferPlanAnswer: FieldAnswer {
    let movements: [Movement]

    /// `quantity`: what moved, which a source that sold meanwhile may have made smaller than the plan said (each
    /// side's own `quantity` is its level after the move, as every write answers).
    struct Pair: FieldAnswer {
        let from: Movement, to: Movement
        var fields: [(String, any Encodable)] {
            [("from", WriteAnswer(movement: from)), ("to", WriteAnswer(movement: to)), ("quantity", to.delta)]
        }
    }

    var fields: [(String, any Encodable)] {
        [("transfers", stride(from: 0, to: movements.count - 1, by: 2).map { Pair(from: movements[$0], to: movements[$0 + 1]) })]
    }
}

/// An API key as listed (never its secret or hash); `key`, the secret, only in the answer that issued it.
struct APIKeyAnswer: FieldAnswer {
    let record: APIKeyRecord
    var key: String?

    var fields: [(String, any Encodable)] {
        [("id", record.id), ("name", record.name), ("role", record.role.rawValue), ("stores", record.stores),
         ("created_at", AnswerValue.time(record.createdAtMillis)), ("revoked_at", AnswerValue.time(record.revokedAtMillis))]
            + (key.map { [("key", $0)] } ?? [])
    }
}
