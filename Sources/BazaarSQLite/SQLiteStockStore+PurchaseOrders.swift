public import BazaarCore
public import BazaarDomain
import GRDB

/// Purchase orders on SQLite: each change one transaction on the single writer, its event in `event_outbox`.
extension SQLiteStockStore: PurchaseOrderStore {
    static let purchaseOrderColumns = SharedSQL.purchaseOrderColumns

    static func fetchPurchaseOrder(_ db: Database, id: String) throws -> PurchaseOrder? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(purchaseOrderColumns) FROM purchase_orders WHERE id = ?"),
                                         arguments: [id]) else { return nil }
        return try purchaseOrder(db, row)
    }

    static func purchaseOrder(_ db: Database, _ row: Row) throws -> PurchaseOrder {
        let statusText: String = row[6]
        guard let status = PurchaseOrderStatus(rawValue: statusText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown purchase order status \(statusText)")
        }
        let id: String = row[1]
        let lines = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT product_id, quantity, received FROM purchase_order_lines WHERE order_id = ? ORDER BY product_id
            """), arguments: [id]).map { PurchaseOrderLine(productID: $0[0], quantity: $0[1], received: $0[2]) }
        return PurchaseOrder(sequence: row[0], id: id, storeID: row[2], supplier: row[3], reference: row[4], expectedAtMillis: row[5],
                             status: status, lines: lines, createdAtMillis: row[7], updatedAtMillis: row[8])
    }

    /// Adds `delta` to a stock row's `incoming` (creating the row at quantity 0, version 0) and returns the row.
    static func changeIncoming(_ db: Database, storeID: String, productID: String, by delta: Int64) throws -> StockLevel {
        try db.cachedStatement(sql: """
            INSERT INTO stock_levels (store_id, product_id, quantity, version, updated_at_ms, incoming, state_changes) VALUES (?, ?, 0, 0, 0, ?, 1)
            ON CONFLICT (store_id, product_id) DO UPDATE SET incoming = incoming + excluded.incoming, state_changes = state_changes + 1
            """).execute(arguments: [storeID, productID, delta])
        return try SQLiteLedgerTransaction(db: db).lockLevel(storeID: storeID, productID: productID) ?? .empty
    }

    static func queueEvent(_ db: Database, _ order: PurchaseOrder, levels: [(productID: String, level: StockLevel)]) throws {
        try db.cachedStatement(sql: "INSERT INTO event_outbox (topic, key, event_id, payload) VALUES (?, ?, ?, ?)")
            .execute(arguments: [MovementEvent.topic, order.storeID, order.eventID,
                                 order.cloudEventJSON(revisions: levels.map { ($0.productID, $0.level.revision) })])
    }

    static func saveOrder(_ db: Database, _ order: PurchaseOrder) throws {
        try db.cachedStatement(sql: "UPDATE purchase_orders SET status = ?, updated_at_ms = ? WHERE id = ?")
            .execute(arguments: [order.status.rawValue, order.updatedAtMillis, order.id])
        for line in order.lines {
            try db.cachedStatement(sql: "UPDATE purchase_order_lines SET received = ? WHERE order_id = ? AND product_id = ?")
                .execute(arguments: [line.received, order.id, line.productID])
        }
    }

    /// The order an idempotency record names; `idempotencyKeyReused` for a record of another request.
    static func orderMade(_ db: Database, by claim: IdempotencyClaim) throws -> PurchaseOrder? {
        guard let record = try SQLiteLedgerTransaction(db: db).idempotencyRecord(scope: claim.scope, key: claim.key) else { return nil }
        guard record.fingerprint == claim.fingerprint, let id = record.movementIDs.first, let order = try fetchPurchaseOrder(db, id: id)
        else { throw DomainError.idempotencyKeyReused(key: claim.key) }
        return order
    }

    public func purchaseOrder(madeBy claim: IdempotencyClaim) async throws -> PurchaseOrder? {
        try await pool.read { db in try Self.orderMade(db, by: claim) }
    }

    public func createPurchaseOrder(_ order: PurchaseOrder, idempotency: IdempotencyClaim?, plannedPositions: [String: Int64]) async throws
        -> PurchaseOrderChange {
        try await pool.write { db in
            if let claim = idempotency, let earlier = try Self.orderMade(db, by: claim) { return PurchaseOrderChange(order: earlier, replayed: true) }
            try db.cachedStatement(sql: """
                INSERT INTO purchase_orders (id, store_id, supplier, reference, expected_at_ms, status, created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [order.id, order.storeID, order.supplier, order.reference, order.expectedAtMillis,
                                         order.status.rawValue, order.createdAtMillis, order.updatedAtMillis])
            var stored = order
            stored.sequence = db.lastInsertedRowID
            var levels: [(productID: String, level: StockLevel)] = []
            for line in order.lines {
                try db.cachedStatement(sql: "INSERT INTO purchase_order_lines (order_id, product_id, quantity) VALUES (?, ?, ?)")
                    .execute(arguments: [order.id, line.productID, line.quantity])
                let level = try Self.changeIncoming(db, storeID: order.storeID, productID: line.productID, by: line.quantity)
                try PlannedPosition.check(level, ordered: line.quantity, planned: plannedPositions[line.productID], storeID: order.storeID,
                                          productID: line.productID)
                levels.append((line.productID, level))
            }
            try Self.queueEvent(db, stored, levels: levels)
            if let claim = idempotency {
                try SQLiteLedgerTransaction(db: db).saveIdempotencyRecord(claim, movementIDs: [order.id], atMillis: order.createdAtMillis)
            }
            return PurchaseOrderChange(order: stored, levels: levels)
        }
    }

    public func receivePurchaseOrder(id: String, lines: [(productID: String, quantity: Int64)], actor: String,
                                     idempotency: IdempotencyClaim?) async throws -> PurchaseOrderChange {
        let now = clock.nowMillis()
        return try await pool.write { db in
            guard let order = try Self.fetchPurchaseOrder(db, id: id) else { throw DomainError.notFound(what: "purchase order", id: id) }
            var tx = SQLiteLedgerTransaction(db: db)
            if let claim = idempotency, let record = try tx.idempotencyRecord(scope: claim.scope, key: claim.key) {
                guard record.fingerprint == claim.fingerprint else { throw DomainError.idempotencyKeyReused(key: claim.key) }
                return PurchaseOrderChange(order: order, movements: try tx.movements(ids: record.movementIDs), replayed: true)
            }
            guard order.status != .closed else { throw DomainError.purchaseOrderClosed(id: id) }
            let request = WriteRequest(commands: try order.receiptCommands(lines), actor: actor, idempotency: idempotency)
            let receipt = try LedgerWrite.apply(request, in: &tx, nowMillis: now)
            // One writer: the look above saw any earlier try of this key. Kept as MySQL has it (`receivePurchaseOrder`).
            if receipt.replayed { return PurchaseOrderChange(order: order, movements: receipt.movements, replayed: true) }
            try Self.recordDemand(receipt.movements, db: db, nowMillis: now)
            let (received, deltas) = order.receiving(lines, atMillis: now)
            try Self.saveOrder(db, received)
            var levels: [(productID: String, level: StockLevel)] = []
            for (movement, level) in zip(receipt.movements, receipt.levels) {
                let delta = order.isOpen ? deltas[movement.productID] ?? 0 : 0
                levels.append((movement.productID, delta == 0 ? level
                    : try Self.changeIncoming(db, storeID: order.storeID, productID: movement.productID, by: delta)))
            }
            try Self.queueEvent(db, received, levels: levels)
            return PurchaseOrderChange(order: received, levels: levels, movements: receipt.movements)
        }
    }

    public func closePurchaseOrder(id: String) async throws -> PurchaseOrderChange {
        let now = clock.nowMillis()
        return try await pool.write { db in
            guard let open = try Self.fetchPurchaseOrder(db, id: id) else { throw DomainError.notFound(what: "purchase order", id: id) }
            let (order, releases) = try open.closing(atMillis: now)
            let levels = try releases.map { release in
                (productID: release.productID, level: try Self.changeIncoming(db, storeID: order.storeID, productID: release.productID, by: -release.quantity))
            }
            try Self.saveOrder(db, order)
            try Self.queueEvent(db, order, levels: levels)
            return PurchaseOrderChange(order: order, levels: levels)
        }
    }

    public func purchaseOrder(id: String) async throws -> PurchaseOrder? {
        try await pool.read { db in try Self.fetchPurchaseOrder(db, id: id) }
    }

    public func purchaseOrders(_ query: PurchaseOrderQuery) async throws -> [PurchaseOrder] {
        let (sql, parameters) = query.sql(selecting: Self.purchaseOrderColumns)
        let arguments = Self.arguments(parameters)
        return try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { try Self.purchaseOrder(db, $0) }
        }
    }

    public func openOrderedTotal(storeID: String, productID: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(MAX(0, l.quantity - l.received)), 0) FROM purchase_order_lines l JOIN purchase_orders o ON o.id = l.order_id
                WHERE o.store_id = ? AND l.product_id = ? AND o.status IN ('open', 'partially_received')
                """, arguments: [storeID, productID]) ?? 0
        }
    }
}
