public import BazaarCore
public import BazaarDomain
import MySQLClient

/// Purchase orders on MySQL / MariaDB: each change one transaction on the primary that locks the order's stock rows in
/// product order, then the order; a receipt's movements through `LedgerWrite`, `ledger_clock` last.
extension MySQLStockStore: PurchaseOrderStore {
    static let purchaseOrderColumns = SharedSQL.purchaseOrderColumns

    static func purchaseOrder(_ c: MySQLConnection, _ row: MySQLRow) throws -> PurchaseOrder {
        guard let status = PurchaseOrderStatus(rawValue: try row.string(6)) else { throw MySQLRows.corrupt("unknown purchase order status") }
        let id = try row.string(1)
        let lines = try c.select("SELECT product_id, quantity, received FROM purchase_order_lines WHERE order_id = ? ORDER BY product_id", [id])
            .map { PurchaseOrderLine(productID: try $0.string(0), quantity: try $0.int(1), received: try $0.int(2)) }
        return PurchaseOrder(sequence: try row.int(0), id: id, storeID: try row.string(2), supplier: try row.string(3),
                             reference: row.optionalString(4), expectedAtMillis: try row.optionalInt(5), status: status, lines: lines,
                             createdAtMillis: try row.int(7), updatedAtMillis: try row.int(8))
    }

    static func fetchOrder(_ c: MySQLConnection, id: String, forUpdate: Bool = false) throws -> PurchaseOrder {
        guard let row = try c.select("SELECT \(purchaseOrderColumns) FROM purchase_orders WHERE id = ?\(forUpdate ? " FOR UPDATE" : "")", [id]).first
        else { throw DomainError.notFound(what: "purchase order", id: id) }
        return try purchaseOrder(c, row)
    }

    static func changeIncoming(_ c: MySQLConnection, storeID: String, productID: String, by delta: Int64) throws -> StockLevel {
        try c.execute("""
            INSERT INTO stock_levels (store_id, product_id, quantity, version, updated_at_ms, incoming, state_changes) VALUES (?, ?, 0, 0, 0, ?, 1)
            ON DUPLICATE KEY UPDATE incoming = incoming + VALUES(incoming), state_changes = state_changes + 1
            """, [storeID, productID, delta])
        return try lockedLevel(c, storeID: storeID, productID: productID) ?? .empty
    }

    private static func save(_ c: MySQLConnection, _ order: PurchaseOrder) throws {
        try c.execute("UPDATE purchase_orders SET status = ?, updated_at_ms = ? WHERE id = ?", [order.status.rawValue, order.updatedAtMillis, order.id])
        for line in order.lines {
            try c.execute("UPDATE purchase_order_lines SET received = ? WHERE order_id = ? AND product_id = ?", [line.received, order.id, line.productID])
        }
    }

    private static func queueEvent(_ c: MySQLConnection, _ order: PurchaseOrder, levels: [(productID: String, level: StockLevel)]) throws {
        try c.execute("INSERT INTO event_outbox (topic, `key`, event_id, payload) VALUES (?, ?, ?, ?)",
                      [MovementEvent.topic, order.storeID, order.eventID, order.cloudEventJSON(revisions: levels.map { ($0.productID, $0.level.revision) })])
    }

    /// The order an idempotency record names; `idempotencyKeyReused` for a record of another request.
    static func orderMade(_ c: MySQLConnection, by claim: IdempotencyClaim) throws -> PurchaseOrder? {
        guard let record = try MySQLLedgerTransaction(connection: c).idempotencyRecord(scope: claim.scope, key: claim.key) else { return nil }
        guard record.fingerprint == claim.fingerprint, let id = record.movementIDs.first,
            let row = try c.select("SELECT \(purchaseOrderColumns) FROM purchase_orders WHERE id = ?", [id]).first
        else { throw DomainError.idempotencyKeyReused(key: claim.key) }
        return try purchaseOrder(c, row)
    }

    public func purchaseOrder(madeBy claim: IdempotencyClaim) async throws -> PurchaseOrder? {
        try await replayOnPrimary { c in try Self.orderMade(c, by: claim) }
    }

    public func createPurchaseOrder(_ order: PurchaseOrder, idempotency: IdempotencyClaim?, plannedPositions: [String: Int64]) async throws
        -> PurchaseOrderChange {
        try await stateTransaction { c in
            if let claim = idempotency, let earlier = try Self.orderMade(c, by: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
            let inserted = try c.execute("""
                INSERT INTO purchase_orders (id, store_id, supplier, reference, expected_at_ms, status, created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [order.id, order.storeID, order.supplier, order.reference, order.expectedAtMillis, order.status.rawValue,
                      order.createdAtMillis, order.updatedAtMillis])
            var stored = order
            stored.sequence = Int64(inserted.lastInsertID)
            var levels: [(productID: String, level: StockLevel)] = []
            for line in order.lines {  // product order: the stock rows are taken in key order
                try c.execute("INSERT INTO purchase_order_lines (order_id, product_id, quantity) VALUES (?, ?, ?)", [order.id, line.productID, line.quantity])
                let level = try Self.changeIncoming(c, storeID: order.storeID, productID: line.productID, by: line.quantity)
                try PlannedPosition.check(level, ordered: line.quantity, planned: plannedPositions[line.productID], storeID: order.storeID,
                                          productID: line.productID)
                levels.append((line.productID, level))
            }
            try Self.queueEvent(c, stored, levels: levels)
            if let claim = idempotency {
                // A try racing with the same key fails here on the primary key (after waiting for the first's stock
                // rows); the transaction rolls back whole and its retry replays the first's order.
                try c.execute(MySQLLedgerTransaction.insertIdempotencySQL, [claim.scope, claim.key, claim.fingerprint, order.id, order.createdAtMillis])
            }
            return PurchaseOrderChange(order: stored, levels: levels)
        }
    }

    public func receivePurchaseOrder(id: String, lines: [(productID: String, quantity: Int64)], actor: String,
                                     idempotency: IdempotencyClaim?) async throws -> PurchaseOrderChange {
        let clock = self.clock
        return try await stateTransaction { c in
            let unlocked = try Self.fetchOrder(c, id: id)
            var tx = MySQLLedgerTransaction(connection: c)
            if let claim = idempotency, let record = try tx.idempotencyRecord(scope: claim.scope, key: claim.key) {
                guard record.fingerprint == claim.fingerprint else { throw DomainError.idempotencyKeyReused(key: claim.key) }
                return PurchaseOrderChange(order: unlocked, movements: try tx.movements(ids: record.movementIDs), replayed: true)
            }
            let commands = try unlocked.receiptCommands(lines)
            try tx.lock(commands.map { .init(storeID: $0.storeID, productID: $0.productID) })
            let order = try Self.fetchOrder(c, id: id, forUpdate: true)
            let now = clock.nowMillis()
            var receipt = try LedgerWrite.apply(WriteRequest(commands: commands, actor: actor, idempotency: idempotency), in: &tx, nowMillis: now)
            // The same key committed between the look above and the stock rows' locks (a retry sent while the first
            // try ran): a replay, as above, even if the order was closed since. The order already counts that receipt;
            // counting it again would raise `received` and lower `incoming` a second time. Nothing is written before
            // the closed check: a refusal rolls the transaction back.
            if receipt.replayed { return PurchaseOrderChange(order: order, movements: receipt.movements, replayed: true) }
            guard order.status != .closed else { throw DomainError.purchaseOrderClosed(id: id) }
            let (received, deltas) = order.receiving(lines, atMillis: now)
            try Self.save(c, received)
            var levels: [(productID: String, level: StockLevel)] = []
            for (movement, level) in zip(receipt.movements, receipt.levels) {
                var level = level
                if let delta = deltas[movement.productID], delta != 0, order.isOpen {
                    try c.execute("UPDATE stock_levels SET incoming = incoming + ?, state_changes = state_changes + 1 WHERE store_id = ? AND product_id = ?",
                                  [delta, order.storeID, movement.productID])
                    level.incoming += delta
                    level.stateChanges += 1
                }
                levels.append((movement.productID, level))
            }
            try Self.queueEvent(c, received, levels: levels)
            // Last: the ledger rows, their sequences from `ledger_clock`, the stock rows' quantities, the movements' events.
            let sequences = try tx.flush()
            for index in receipt.movements.indices where receipt.movements[index].sequence < 0 {
                receipt.movements[index].sequence = sequences[Int(-receipt.movements[index].sequence) - 1]
            }
            return PurchaseOrderChange(order: received, levels: levels, movements: receipt.movements)
        }
    }

    public func closePurchaseOrder(id: String) async throws -> PurchaseOrderChange {
        let clock = self.clock
        return try await stateTransaction { c in
            let unlocked = try Self.fetchOrder(c, id: id)
            for line in unlocked.lines { _ = try Self.lockedLevel(c, storeID: unlocked.storeID, productID: line.productID) }
            let (order, releases) = try Self.fetchOrder(c, id: id, forUpdate: true).closing(atMillis: clock.nowMillis())
            let levels = try releases.map { release in
                (productID: release.productID, level: try Self.changeIncoming(c, storeID: order.storeID, productID: release.productID, by: -release.quantity))
            }
            try Self.save(c, order)
            try Self.queueEvent(c, order, levels: levels)
            return PurchaseOrderChange(order: order, levels: levels)
        }
    }

    /// On a replica, else on the primary (an order just made may not have reached the replica yet).
    public func purchaseOrder(id: String) async throws -> PurchaseOrder? {
        let read: @Sendable (MySQLConnection) throws -> PurchaseOrder? = { c in
            guard let row = try c.select("SELECT \(Self.purchaseOrderColumns) FROM purchase_orders WHERE id = ?", [id]).first else { return nil }
            return try Self.purchaseOrder(c, row)
        }
        if let found = try await onReplica(read) { return found }
        return try await onPrimary(read)
    }

    public func purchaseOrders(_ query: PurchaseOrderQuery) async throws -> [PurchaseOrder] {
        let (sql, parameters) = query.sql(selecting: Self.purchaseOrderColumns)
        let bound = MySQLRows.bound(parameters)
        return try await onReplica { c in try c.select(sql, bound).map { try Self.purchaseOrder(c, $0) } }
    }

    public func openOrderedTotal(storeID: String, productID: String) async throws -> Int64 {
        try await onPrimary { c in
            try c.select("""
                SELECT CAST(COALESCE(SUM(GREATEST(0, l.quantity - l.received)), 0) AS SIGNED) FROM purchase_order_lines l
                JOIN purchase_orders o ON o.id = l.order_id WHERE o.store_id = ? AND l.product_id = ? AND o.status IN ('open', 'partially_received')
                """, [storeID, productID])[0].int(0)
        }
    }
}
