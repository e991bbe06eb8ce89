public import BazaarDomain

/// Filters of `GET /v1/purchase-orders`; `beforeSequence` is the page cursor (newest first).
public struct PurchaseOrderQuery: Sendable, Equatable {
    public var storeID: String?
    public var status: PurchaseOrderStatus?
    public var beforeSequence: Int64?
    public var limit: Int

    public init(storeID: String? = nil, status: PurchaseOrderStatus? = nil, beforeSequence: Int64? = nil, limit: Int = Paging.defaultLimit) {
        self.storeID = storeID
        self.status = status
        self.beforeSequence = beforeSequence
        self.limit = limit
    }

    /// `SELECT <columns> FROM purchase_orders WHERE ... ORDER BY seq DESC LIMIT ?` (the text depends only on which
    /// filters are set) and its parameters, the limit last.
    public func sql(selecting columns: String) -> (sql: String, parameters: [SQLParameter]) {
        var conditions: [(String, SQLParameter)] = []
        if let storeID { conditions.append(("store_id = ?", .text(storeID))) }
        if let status { conditions.append(("status = ?", .text(status.rawValue))) }
        if let beforeSequence { conditions.append(("seq < ?", .integer(beforeSequence))) }
        let sql = "SELECT \(columns) FROM purchase_orders" + (conditions.isEmpty ? "" : " WHERE " + conditions.map(\.0).joined(separator: " AND "))
            + " ORDER BY seq DESC LIMIT ?"
        return (sql, conditions.map(\.1) + [.integer(Int64(limit))])
    }
}

/// A committed change of a purchase order: the order as it is now, the stock rows it changed (their `incoming`, and
/// for a receipt their quantity), and a receipt's movements.
public struct PurchaseOrderChange: Sendable, Equatable {
    public var order: PurchaseOrder
    public var levels: [(productID: String, level: StockLevel)]
    public var movements: [Movement]
    public var replayed: Bool

    public init(order: PurchaseOrder, levels: [(productID: String, level: StockLevel)] = [], movements: [Movement] = [], replayed: Bool = false) {
        self.order = order
        self.levels = levels
        self.movements = movements
        self.replayed = replayed
    }

    public static func == (a: PurchaseOrderChange, b: PurchaseOrderChange) -> Bool {
        a.order == b.order && a.movements == b.movements && a.replayed == b.replayed
    }
}

/// Storage of purchase orders, beside `StockStore` (both engines implement it). Each change is one transaction that
/// locks the order's stock rows first, in product order (the order every stock write takes them in), then the order;
/// a receipt's movements go through `LedgerWrite` (MySQL: `ledger_clock` last). Its event is queued with it.
public protocol PurchaseOrderStore: Sendable {
    /// Inserts an open order; each line's quantity is added to its stock row's `incoming` (creating the row at 0).
    /// With a claim, a key already used answers the order it made (`replayed`, nothing written), or
    /// `idempotencyKeyReused` when its fingerprint differs; two tries racing with one key make one order.
    /// `plannedPositions`: the inventory position of each product's stock row the order was planned from; a row
    /// replenished since refuses the order (`planChanged`, nothing written): see `PlannedPosition`.
    func createPurchaseOrder(_ order: PurchaseOrder, idempotency: IdempotencyClaim?, plannedPositions: [String: Int64]) async throws
        -> PurchaseOrderChange
    /// The order an earlier request with this claim's key made (read on the primary), nil when the key is unused;
    /// `idempotencyKeyReused` when the key was used for a different request.
    func purchaseOrder(madeBy claim: IdempotencyClaim) async throws -> PurchaseOrder?
    /// Records each line as a `receipt` movement (reference: the order id) and moves what it covers out of
    /// `incoming`, all in one transaction; the status follows the lines. A known idempotency key replays.
    func receivePurchaseOrder(id: String, lines: [(productID: String, quantity: Int64)], actor: String,
                              idempotency: IdempotencyClaim?) async throws -> PurchaseOrderChange
    /// What is not received stops being incoming; `purchaseOrderClosed` when already closed.
    func closePurchaseOrder(id: String) async throws -> PurchaseOrderChange
    func purchaseOrder(id: String) async throws -> PurchaseOrder?
    /// Newest first.
    func purchaseOrders(_ query: PurchaseOrderQuery) async throws -> [PurchaseOrder]
    /// The sum of outstanding quantities of open orders of one store x product (the incoming check).
    func openOrderedTotal(storeID: String, productID: String) async throws -> Int64
}

extension PurchaseOrderStore {
    /// An order with no idempotency key.
    public func createPurchaseOrder(_ order: PurchaseOrder) async throws -> PurchaseOrderChange {
        try await createPurchaseOrder(order, idempotency: nil, plannedPositions: [:])
    }

    /// An order not planned from levels read earlier.
    public func createPurchaseOrder(_ order: PurchaseOrder, idempotency: IdempotencyClaim?) async throws -> PurchaseOrderChange {
        try await createPurchaseOrder(order, idempotency: idempotency, plannedPositions: [:])
    }
}

/// An order line planned from a stock row read earlier (the replenishment plan's): two calls ordering one plan at once
/// would otherwise both order what only one should. A bound on the position (`PlannedBound.positionAtMost`), not on
/// the row's revision: a sale, or a receipt against an order, changes nothing the plan relied on.
public enum PlannedPosition {
    /// Refuses the line when its row was replenished since the plan read its position: `level` is the row after the
    /// line's own change of `incoming` by `quantity`.
    public static func check(_ level: StockLevel, ordered quantity: Int64, planned: Int64?, storeID: String, productID: String) throws(DomainError) {
        guard let planned else { return }
        var before = level
        before.incoming -= quantity
        guard PlannedBound.positionAtMost(planned).holds(before, after: before.quantity) else {
            throw .planChanged(storeID: storeID, productID: productID)
        }
    }
}

public enum PurchaseOrderID {
    public static func next() -> String { "po_" + Hex.random(bytes: 10) }
}

extension PurchaseOrder {
    /// The order after a receipt of `lines` (each on the order: checked by the caller).
    public func receiving(_ lines: [(productID: String, quantity: Int64)], atMillis now: Int64) -> (order: PurchaseOrder, incomingDeltas: [String: Int64]) {
        var order = self
        var deltas: [String: Int64] = [:]
        for line in lines {
            guard let index = order.lines.firstIndex(where: { $0.productID == line.productID }) else { continue }
            let before = order.lines[index].outstanding
            order.lines[index].received += line.quantity
            deltas[line.productID] = order.lines[index].outstanding - before
        }
        order.status = order.statusFromLines
        order.updatedAtMillis = now
        return (order, deltas)
    }

    /// The order closed, and what it gives back: each line's outstanding quantity stops being incoming on its stock
    /// row (none for an order that no longer counts as incoming). `purchaseOrderClosed` when already closed.
    public func closing(atMillis now: Int64) throws -> (order: PurchaseOrder, incomingReleases: [(productID: String, quantity: Int64)]) {
        guard status != .closed else { throw DomainError.purchaseOrderClosed(id: id) }
        let releases = isOpen ? lines.filter { $0.outstanding > 0 }.map { (productID: $0.productID, quantity: $0.outstanding) } : []
        var order = self
        order.status = .closed
        order.updatedAtMillis = now
        return (order, releases)
    }

    /// The receipt's movement commands, in product order: one `receipt` per line, referencing the order.
    public func receiptCommands(_ lines: [(productID: String, quantity: Int64)]) throws -> [MovementCommand] {
        for (index, line) in lines.enumerated() where !self.lines.contains(where: { $0.productID == line.productID }) {
            throw DomainError.invalid(field: "lines[\(index)].product_id", message: "\(line.productID) is not on purchase order \(id)")
        }
        return try lines.sorted { $0.productID < $1.productID }.map { line in
            try MovementCommand(storeID: storeID, productID: line.productID, change: .delta(line.quantity), reason: .receipt, reference: id)
        }
    }
}
