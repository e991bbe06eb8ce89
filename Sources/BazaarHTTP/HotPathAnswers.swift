import BazaarDomain

// The typed shapes of the hot paths' answers. The hot paths themselves write their JSON by hand
// (`Movement.writeAnswerJSON`, `StockLevel.readAnswerJSON`, `Movement.auditJSON`, measured in BENCHMARKS.md);
// these structs are what that text must equal (`HotPathEncodingTests`), and what cold answers that embed a
// movement (a purchase order's receipt, a replenishment transfer plan) encode.

/// The answer to a write (`POST /update-stock`): the level after the movement.
struct WriteAnswer: FieldAnswer {
    let movement: Movement

    var fields: [(String, any Encodable)] {
        [("store_id", movement.storeID), ("product_id", movement.productID), ("quantity", movement.quantityAfter),
         ("version", movement.version), ("movement_id", movement.movementID), ("updated_at", AnswerValue.time(movement.recordedAtMillis))]
    }
}

/// The answer to a read (`GET /get-stock`) and an item of the stock listings.
struct LevelAnswer: FieldAnswer {
    let storeID: String
    let productID: String
    let level: StockLevel

    var fields: [(String, any Encodable)] {
        [("store_id", storeID), ("product_id", productID), ("quantity", level.quantity), ("version", level.version),
         // A pair never written has no time.
         ("updated_at", level.version == 0 ? nil : AnswerValue.time(level.updatedAtMillis)),
         ("reserved", level.reserved), ("available", level.available), ("incoming", level.incoming)]
    }
}

/// A ledger row as the audit log, the change feed and the movement events' `data` carry it.
struct LedgerItemAnswer: FieldAnswer {
    let movement: Movement

    var fields: [(String, any Encodable)] {
        [("movement_id", movement.movementID), ("store_id", movement.storeID), ("product_id", movement.productID),
         ("delta", movement.delta), ("quantity_before", movement.quantityBefore), ("quantity_after", movement.quantityAfter),
         ("version", movement.version), ("reason", movement.reason.rawValue), ("reference", movement.reference),
         ("actor", movement.actor), ("at", AnswerValue.time(movement.atMillis)), ("recorded_at", AnswerValue.time(movement.recordedAtMillis))]
    }
}
