public import BazaarCore
public import BazaarDomain
import MySQLClient

/// Transfers in transit on MySQL / MariaDB: the stock rows in key order, then the transfer's row, `ledger_clock` last.
extension MySQLStockStore: TransferStore {
    static let transferColumns = SharedSQL.transferColumns

    static func transfer(_ row: MySQLRow) throws -> TransferInTransit {
        guard let status = TransferStatus(rawValue: try row.string(6)) else { throw MySQLRows.corrupt("unknown transfer status") }
        return TransferInTransit(sequence: try row.int(0), id: try row.string(1), fromStoreID: try row.string(2), toStoreID: try row.string(3),
                                 productID: try row.string(4), quantity: try row.int(5), status: status, received: try row.optionalInt(7),
                                 reference: row.optionalString(8), shippedMovementID: row.optionalString(9),
                                 receivedMovementID: row.optionalString(10), createdAtMillis: try row.int(11), updatedAtMillis: try row.int(12))
    }

    private static func fetchTransfer(_ c: MySQLConnection, _ condition: String, _ value: String, forUpdate: Bool = false) throws -> TransferInTransit? {
        try c.select("SELECT \(transferColumns) FROM transfers_in_transit WHERE \(condition) = ?\(forUpdate ? " FOR UPDATE" : "")", [value])
            .first.map(transfer)
    }

    private static func queueEvent(_ c: MySQLConnection, _ t: TransferInTransit, destination: StockLevel) throws {
        try c.execute("INSERT INTO event_outbox (topic, `key`, event_id, payload) VALUES (?, ?, ?, ?)",
                      [MovementEvent.topic, t.toStoreID, t.eventID, t.cloudEventJSON(destinationRevision: destination.revision)])
    }

    public func shipTransfer(_ transfer: TransferInTransit, actor: String, idempotency: IdempotencyClaim?) async throws -> TransferChange {
        try await stateTransaction { c in
            var tx = MySQLLedgerTransaction(connection: c)
            try tx.lock([.init(storeID: transfer.fromStoreID, productID: transfer.productID),
                         .init(storeID: transfer.toStoreID, productID: transfer.productID)].sorted())
            var receipt = try LedgerWrite.apply(WriteRequest(commands: [try transfer.shipmentCommand()], actor: actor, idempotency: idempotency),
                                                in: &tx, nowMillis: transfer.createdAtMillis)
            if receipt.replayed {
                let earlier = try Self.fetchTransfer(c, "shipped_movement_id", receipt.movements[0].movementID)
                return try TransferChange.replayedShipment(receipt, earlier: earlier, idempotency: idempotency)
            }
            var shipped = transfer
            shipped.shippedMovementID = receipt.movements[0].movementID
            let inserted = try c.execute("""
                INSERT INTO transfers_in_transit (id, from_store_id, to_store_id, product_id, quantity, status, reference, shipped_movement_id,
                    created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [shipped.id, shipped.fromStoreID, shipped.toStoreID, shipped.productID, shipped.quantity, shipped.status.rawValue,
                      shipped.reference, shipped.shippedMovementID, shipped.createdAtMillis, shipped.updatedAtMillis])
            shipped.sequence = Int64(inserted.lastInsertID)
            let destination = try Self.changeIncoming(c, storeID: shipped.toStoreID, productID: shipped.productID, by: shipped.quantity)
            try Self.queueEvent(c, shipped, destination: destination)
            let sequences = try tx.flush()
            receipt.movements[0].sequence = sequences[0]
            return TransferChange(transfer: shipped, levels: [(shipped.fromStoreID, receipt.levels[0]), (shipped.toStoreID, destination)],
                                  movement: receipt.movements[0])
        }
    }

    public func receiveTransfer(id: String, quantity: Int64?, actor: String) async throws -> TransferChange {
        let clock = self.clock
        return try await stateTransaction { c in
            guard let unlocked = try Self.fetchTransfer(c, "id", id) else { throw DomainError.notFound(what: "transfer", id: id) }
            var tx = MySQLLedgerTransaction(connection: c)
            try tx.lock([.init(storeID: unlocked.toStoreID, productID: unlocked.productID)])
            guard var transfer = try Self.fetchTransfer(c, "id", id, forUpdate: true) else { throw DomainError.notFound(what: "transfer", id: id) }
            guard transfer.status == .inTransit else { throw DomainError.transferAlreadyReceived(id: id) }
            let arrived = try transfer.arrival(quantity)
            let now = clock.nowMillis()
            var movement: Movement?
            if arrived > 0 {
                movement = try LedgerWrite.apply(WriteRequest(commands: [try transfer.arrivalCommand(arrived)], actor: actor), in: &tx,
                                                 nowMillis: now).movements[0]
            }
            try c.execute("UPDATE stock_levels SET incoming = incoming - ?, state_changes = state_changes + 1 WHERE store_id = ? AND product_id = ?",
                          [transfer.quantity, transfer.toStoreID, transfer.productID])
            transfer.status = .received
            transfer.received = arrived
            transfer.receivedMovementID = movement?.movementID
            transfer.updatedAtMillis = now
            try c.execute("""
                UPDATE transfers_in_transit SET status = ?, received = ?, received_movement_id = ?, updated_at_ms = ? WHERE id = ? AND status = 'in_transit'
                """, [transfer.status.rawValue, arrived, transfer.receivedMovementID, now, id])
            let sequences = try tx.flush()
            if movement != nil { movement?.sequence = sequences[0] }
            // The destination's row as this transaction leaves it (its quantity written by the flush).
            guard let destination = try Self.lockedLevel(c, storeID: transfer.toStoreID, productID: transfer.productID) else {
                throw MySQLRows.corrupt("transfer \(id) to a missing stock row")
            }
            try Self.queueEvent(c, transfer, destination: destination)
            return TransferChange(transfer: transfer, levels: [(transfer.toStoreID, destination)], movement: movement)
        }
    }

    /// On a replica, else on the primary (a transfer just shipped may not have reached the replica yet).
    public func transfer(id: String) async throws -> TransferInTransit? {
        if let found = try await onReplica({ c in try Self.fetchTransfer(c, "id", id) }) { return found }
        return try await onPrimary { c in try Self.fetchTransfer(c, "id", id) }
    }

    public func inTransitTotal(storeID: String, productID: String) async throws -> Int64 {
        try await onPrimary { c in
            try c.select("""
                SELECT CAST(COALESCE(SUM(quantity), 0) AS SIGNED) FROM transfers_in_transit WHERE to_store_id = ? AND product_id = ? AND status = 'in_transit'
                """, [storeID, productID])[0].int(0)
        }
    }
}
