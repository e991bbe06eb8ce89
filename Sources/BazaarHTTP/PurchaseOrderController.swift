import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

struct OrderLineBody: Decodable {
    var productID: String
    var quantity: Int64
    private enum Key: String, CodingKey { case productID = "product_id", quantity }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["product_id", "quantity"])
        let c = try decoder.container(keyedBy: Key.self)
        productID = try c.decode(String.self, forKey: .productID)
        quantity = try c.requiredInteger(.quantity)
    }
}

struct PurchaseOrderBody: Decodable {
    var storeID: String
    var supplier: String
    var reference: String?
    var expectedAt: String?
    var lines: [OrderLineBody]
    private enum Key: String, CodingKey { case storeID = "store_id", supplier, reference, expectedAt = "expected_at", lines }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["store_id", "supplier", "reference", "expected_at", "lines"])
        let c = try decoder.container(keyedBy: Key.self)
        storeID = try c.decode(String.self, forKey: .storeID)
        supplier = try c.decode(String.self, forKey: .supplier)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        expectedAt = try c.decodeIfPresent(String.self, forKey: .expectedAt)
        lines = try c.decode([OrderLineBody].self, forKey: .lines)
    }
}

/// Acting on a store's replenishment plan: optional `product_ids` (all the plan's items when absent), and for a
/// purchase order its `supplier`, `reference` and `expected_at`.
struct ReplenishmentActionBody: Decodable {
    var supplier: String?
    var reference: String?
    var expectedAt: String?
    var productIDs: [String]?
    private enum Key: String, CodingKey { case supplier, reference, expectedAt = "expected_at", productIDs = "product_ids" }

    init(from decoder: any Decoder, fields: Set<String>) throws {
        try decoder.rejectUnknownFields(fields)
        let c = try decoder.container(keyedBy: Key.self)
        supplier = try c.decodeIfPresent(String.self, forKey: .supplier)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        expectedAt = try c.decodeIfPresent(String.self, forKey: .expectedAt)
        productIDs = try c.decodeIfPresent([String].self, forKey: .productIDs)
    }

    func products() throws -> Set<String>? {
        guard let productIDs else { return nil }
        guard productIDs.count <= PurchaseOrder.maxLines else {
            throw DomainError.invalid(field: "product_ids", message: "must hold at most \(PurchaseOrder.maxLines) ids")
        }
        for (index, id) in productIDs.enumerated() { try Identifier.validate(id, field: "product_ids[\(index)]") }
        return Set(productIDs)
    }
}

struct ReplenishmentOrderBody: Decodable {
    var body: ReplenishmentActionBody
    init(from decoder: any Decoder) throws {
        body = try ReplenishmentActionBody(from: decoder, fields: ["supplier", "reference", "expected_at", "product_ids"])
    }
}

struct ReplenishmentTransferBody: Decodable {
    var body: ReplenishmentActionBody
    init(from decoder: any Decoder) throws { body = try ReplenishmentActionBody(from: decoder, fields: ["product_ids"]) }
}

struct ReceiptBody: Decodable {
    var lines: [OrderLineBody]
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["lines"])
        lines = try decoder.container(keyedBy: AnyKey.self).decode([OrderLineBody].self, forKey: AnyKey(stringValue: "lines"))
    }
}

/// Purchase orders (DESIGN.md, "Inventory states"): ordered goods count as `incoming` until received or closed.
struct PurchaseOrderController {
    let orders: PurchaseOrderService
    let actions: ReplenishmentActions

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .post, "/v1/purchase-orders", create)
        routes.on(group, .get, "/v1/purchase-orders", list)
        routes.on(group, .get, "/v1/purchase-orders/{purchase_order_id}", get)
        routes.on(group, .post, "/v1/purchase-orders/{purchase_order_id}/receipts", receive)
        routes.on(group, .post, "/v1/purchase-orders/{purchase_order_id}/close", close)
        routes.on(group, .post, "/v1/stores/{store_id}/replenishment/purchase-order", orderPlan)
        routes.on(group, .post, "/v1/stores/{store_id}/replenishment/transfers", transferPlan)
    }

    /// The plan's orders (all, or `product_ids`) as one purchase order: 201 the order; 409 `nothing-to-replenish` or
    /// `plan-changed`.
    @Sendable func orderPlan(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        try caller.require(.writeStock(storeID: storeID))
        let body = try await JSONBody.decode(ReplenishmentOrderBody.self, from: request, context: context).body
        guard let supplier = body.supplier else { throw DomainError.invalid(field: "supplier", message: "is required") }
        let products = try body.products()
        try await orders.stock.requireStore(storeID)
        let change = try await actions.purchaseOrder(storeID: storeID, supplier: supplier, reference: body.reference,
                                                     expectedAtMillis: try Self.time(body.expectedAt), productIDs: products,
                                                     idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return try Answer.made(PurchaseOrderAnswer(order: change.order), replayed: change.replayed)
    }

    /// The plan's transfers into the store (all, or `product_ids`), from the stores the caller may write, in one
    /// atomic write: 200 `{"transfers": [{"from", "to"}]}`; 409 `nothing-to-replenish` or `plan-changed`.
    @Sendable func transferPlan(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        try caller.require(.writeStock(storeID: storeID))
        let body = try await JSONBody.decode(ReplenishmentTransferBody.self, from: request, context: context).body
        let products = try body.products()
        try await orders.stock.requireStore(storeID)
        let receipt = try await actions.transfers(storeID: storeID, productIDs: products, actor: caller.name,
                                                  idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID) { other in
            caller.may(.writeStock(storeID: other))
        }
        return try Answer.make(TransferPlanAnswer(movements: receipt.movements), headers: receipt.replayed ? [.idempotentReplayed: "true"] : [:])
    }

    static func time(_ text: String?) throws -> Int64? {
        try text.map { text in
            guard let millis = RFC3339.parse(text) else {
                throw DomainError.invalid(field: "expected_at", message: "must be an RFC 3339 time such as 2026-12-01T08:00:00Z")
            }
            return millis
        }
    }

    @Sendable func create(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(PurchaseOrderBody.self, from: request, context: context)
        try Identifier.validate(body.storeID, field: "store_id")
        try caller.require(.writeStock(storeID: body.storeID))
        let change = try await orders.create(storeID: body.storeID, supplier: body.supplier, reference: body.reference,
                                             expectedAtMillis: try Self.time(body.expectedAt), lines: body.lines.map { ($0.productID, $0.quantity) },
                                             idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return try Answer.made(PurchaseOrderAnswer(order: change.order), replayed: change.replayed)
    }

    @Sendable func get(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let order = try await orders.order(id: try context.identifier("purchase_order_id"))
        try caller.require(.readStock(storeID: order.storeID))
        return try Answer.make(PurchaseOrderAnswer(order: order))
    }

    /// The order, the receipt's movements and the lines received beyond what was ordered.
    @Sendable func receive(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("purchase_order_id")
        let body = try await JSONBody.decode(ReceiptBody.self, from: request, context: context)
        try caller.require(.writeStock(storeID: try await orders.order(id: id).storeID))
        let change = try await orders.receive(id: id, lines: body.lines.map { ($0.productID, $0.quantity) }, actor: caller.name,
                                              idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return try Answer.make(PurchaseOrderReceiptAnswer(order: change.order, movements: change.movements),
                               headers: change.replayed ? [.idempotentReplayed: "true"] : [:])
    }

    @Sendable func close(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("purchase_order_id")
        try caller.require(.writeStock(storeID: try await orders.order(id: id).storeID))
        return try Answer.make(PurchaseOrderAnswer(order: try await orders.close(id: id).order))
    }

    @Sendable func list(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        var query = PurchaseOrderQuery()
        query.storeID = try request.identifierQuery("store_id")
        query.status = try request.enumQuery("status", as: PurchaseOrderStatus.self)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        query.limit = limit + 1
        query.beforeSequence = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeSequence(c) } }
        if let storeID = query.storeID { try caller.require(.readStock(storeID: storeID)) } else { try caller.require(.readAllStores) }
        return try Answer.page(try await orders.orders(query), limit: limit, item: PurchaseOrderAnswer.init) { Cursor.encode(sequence: $0.sequence) }
    }
}
