public import BazaarCore
public import BazaarDomain
import GRDB

/// Transfers in transit on SQLite: each change one transaction on the single writer, its event in `event_outbox`.
extension SQLiteStockStore: TransferStore {
    static let transferColumns = SharedSQL.transferColumns

    static func transfer(from row: Row) throws -> TransferInTransit {
        let statusText: String = row[6]
        guard let status = TransferStatus(rawValue: statusText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown transfer status \(statusText)")
        }
        return TransferInTransit(sequence: row[0], id: row[1], fromStoreID: row[2], toStoreID: row[3], productID: row[4], quantity: row[5],
                                 status: status, received: row[7], reference: row[8], shippedMovementID: row[9], receivedMovementID: row[10],
                                 createdAtMillis: row[11], updatedAtMillis: row[12])
    }

    private static func fetchTransfer(_ db: Database, _ condition: String, _ value: String) throws -> TransferInTransit? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(transferColumns) FROM transfers_in_transit WHERE \(condition) = ?"), arguments: [value])
            .map(transfer(from:))
    }

    private static func queueEvent(_ db: Database, _ t: TransferInTransit, destination: StockLevel) throws {
        try db.cachedStatement(sql: "INSERT INTO event_outbox (topic, key, event_id, payload) VALUES (?, ?, ?, ?)")
            .execute(arguments: [MovementEvent.topic, t.toStoreID, t.eventID, t.cloudEventJSON(destinationRevision: destination.revision)])
    }

    public func shipTransfer(_ transfer: TransferInTransit, actor: String, idempotency: IdempotencyClaim?) async throws -> TransferChange {
        try await pool.write { db in
            var tx = SQLiteLedgerTransaction(db: db)
            let receipt = try LedgerWrite.apply(WriteRequest(commands: [try transfer.shipmentCommand()], actor: actor, idempotency: idempotency),
                                                in: &tx, nowMillis: transfer.createdAtMillis)
            if receipt.replayed {
                let earlier = try Self.fetchTransfer(db, "shipped_movement_id", receipt.movements[0].movementID)
                return try TransferChange.replayedShipment(receipt, earlier: earlier, idempotency: idempotency)
            }
            try Self.recordDemand(receipt.movements, db: db, nowMillis: transfer.createdAtMillis)
            var shipped = transfer
            shipped.shippedMovementID = receipt.movements[0].movementID
            try db.cachedStatement(sql: """
                INSERT INTO transfers_in_transit (id, from_store_id, to_store_id, product_id, quantity, status, reference, shipped_movement_id,
                    created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [shipped.id, shipped.fromStoreID, shipped.toStoreID, shipped.productID, shipped.quantity,
                                         shipped.status.rawValue, shipped.reference, shipped.shippedMovementID, shipped.createdAtMillis,
                                         shipped.updatedAtMillis])
            shipped.sequence = db.lastInsertedRowID
            let destination = try Self.changeIncoming(db, storeID: shipped.toStoreID, productID: shipped.productID, by: shipped.quantity)
            try Self.queueEvent(db, shipped, destination: destination)
            return TransferChange(transfer: shipped, levels: [(shipped.fromStoreID, receipt.levels[0]), (shipped.toStoreID, destination)],
                                  movement: receipt.movements[0])
        }
    }

    public func receiveTransfer(id: String, quantity: Int64?, actor: String) async throws -> TransferChange {
        let now = clock.nowMillis()
        return try await pool.write { db in
            guard var transfer = try Self.fetchTransfer(db, "id", id) else { throw DomainError.notFound(what: "transfer", id: id) }
            guard transfer.status == .inTransit else { throw DomainError.transferAlreadyReceived(id: id) }
            let arrived = try transfer.arrival(quantity)
            var movement: Movement?
            if arrived > 0 {
                var tx = SQLiteLedgerTransaction(db: db)
                movement = try LedgerWrite.apply(WriteRequest(commands: [try transfer.arrivalCommand(arrived)], actor: actor), in: &tx,
                                                 nowMillis: now).movements[0]
                try Self.recordDemand([movement!], db: db, nowMillis: now)
            }
            let destination = try Self.changeIncoming(db, storeID: transfer.toStoreID, productID: transfer.productID, by: -transfer.quantity)
            transfer.status = .received
            transfer.received = arrived
            transfer.receivedMovementID = movement?.movementID
            transfer.updatedAtMillis = now
            try db.cachedStatement(sql: """
                UPDATE transfers_in_transit SET status = ?, received = ?, received_movement_id = ?, updated_at_ms = ? WHERE id = ? AND status = 'in_transit'
                """).execute(arguments: [transfer.status.rawValue, arrived, transfer.receivedMovementID, now, id])
            try Self.queueEvent(db, transfer, destination: destination)
            return TransferChange(transfer: transfer, levels: [(transfer.toStoreID, destination)], movement: movement)
        }
    }

    public func transfer(id: String) async throws -> TransferInTransit? {
        try await pool.read { db in try Self.fetchTransfer(db, "id", id) }
    }

    public func inTransitTotal(storeID: String, productID: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(quantity), 0) FROM transfers_in_transit WHERE to_store_id = ? AND product_id = ? AND status = 'in_transit'
                """, arguments: [storeID, productID]) ?? 0
        }
    }
}
