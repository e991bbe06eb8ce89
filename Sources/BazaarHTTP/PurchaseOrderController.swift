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

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .post, "/v1/purchase-orders", create)
        routes.on(group, .get, "/v1/purchase-orders", list)
        routes.on(group, .get, "/v1/purchase-orders/{purchase_order_id}", get)
        routes.on(group, .post, "/v1/purchase-orders/{purchase_order_id}/receipts", receive)
        routes.on(group, .post, "/v1/purchase-orders/{purchase_order_id}/close", close)
    }

    @Sendable func create(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(PurchaseOrderBody.self, from: request, context: context)
        try Identifier.validate(body.storeID, field: "store_id")
        try caller.require(.writeStock(storeID: body.storeID))
        let expected = try body.expectedAt.map { text in
            guard let millis = RFC3339.parse(text) else {
                throw DomainError.invalid(field: "expected_at", message: "must be an RFC 3339 time such as 2026-12-01T08:00:00Z")
            }
            return millis
        }
        let change = try await orders.create(storeID: body.storeID, supplier: body.supplier, reference: body.reference,
                                             expectedAtMillis: expected, lines: body.lines.map { ($0.productID, $0.quantity) })
        return JSONResponse.make(change.order.json, status: .created)
    }

    @Sendable func get(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let order = try await orders.order(id: try context.identifier("purchase_order_id"))
        try caller.require(.readStock(storeID: order.storeID))
        return JSONResponse.make(order.json)
    }

    /// The order, the receipt's movements and the lines received beyond what was ordered.
    @Sendable func receive(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("purchase_order_id")
        let body = try await JSONBody.decode(ReceiptBody.self, from: request, context: context)
        try caller.require(.writeStock(storeID: try await orders.order(id: id).storeID))
        let change = try await orders.receive(id: id, lines: body.lines.map { ($0.productID, $0.quantity) }, actor: caller.name,
                                              idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        let over = change.order.overReceived.map { "{\"product_id\":\(JSON.quoted($0.productID)),\"ordered\":\($0.quantity),\"received\":\($0.received)}" }
        return JSONResponse.make("""
            {"purchase_order":\(change.order.json),"movements":[\(change.movements.map(\.writeAnswerJSON).joined(separator: ","))],\
            "over_received":[\(over.joined(separator: ","))]}
            """, headers: change.replayed ? [.idempotentReplayed: "true"] : [:])
    }

    @Sendable func close(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("purchase_order_id")
        try caller.require(.writeStock(storeID: try await orders.order(id: id).storeID))
        return JSONResponse.make(try await orders.close(id: id).order.json)
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
        return JSONResponse.page(try await orders.orders(query), limit: limit, json: \.json) { Cursor.encode(sequence: $0.sequence) }
    }
}
