import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

struct ReservationBody: Decodable {
    var storeID: String
    var productID: String
    var quantity: Int64
    var expiresInSeconds: Int64?
    var reference: String?

    private enum Key: String, CodingKey {
        case storeID = "store_id", productID = "product_id", quantity, expiresInSeconds = "expires_in_seconds", reference
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["store_id", "product_id", "quantity", "expires_in_seconds", "reference"])
        let c = try decoder.container(keyedBy: Key.self)
        storeID = try c.decode(String.self, forKey: .storeID)
        productID = try c.decode(String.self, forKey: .productID)
        quantity = try c.requiredInteger(.quantity)
        expiresInSeconds = try c.integer(.expiresInSeconds)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
    }
}

/// Reservations (DESIGN.md, "Inventory states"): stock held for a customer until fulfilled, released or expired.
struct ReservationController {
    let reservations: ReservationService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .post, "/v1/reservations", create)
        routes.on(group, .get, "/v1/reservations", list)
        routes.on(group, .get, "/v1/reservations/{reservation_id}", get)
        routes.on(group, .post, "/v1/reservations/{reservation_id}/fulfil", fulfil)
        routes.on(group, .post, "/v1/reservations/{reservation_id}/release", release)
    }

    @Sendable func create(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(ReservationBody.self, from: request, context: context)
        try Identifier.validate(body.storeID, field: "store_id")
        try caller.require(.writeStock(storeID: body.storeID))
        let change = try await reservations.create(
            storeID: body.storeID, productID: body.productID, quantity: body.quantity, expiresInSeconds: body.expiresInSeconds,
            reference: body.reference, idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return try Answer.made(ReservationAnswer(reservation: change.reservation), replayed: change.replayed)
    }

    @Sendable func get(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let reservation = try await reservations.reservation(id: try context.identifier("reservation_id"))
        try caller.require(.readStock(storeID: reservation.storeID))
        return try Answer.make(ReservationAnswer(reservation: reservation))
    }

    @Sendable func fulfil(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("reservation_id")
        try caller.require(.writeStock(storeID: try await reservations.reservation(id: id).storeID))
        return try Answer.make(ReservationAnswer(reservation: try await reservations.fulfil(id: id, actor: caller.name).reservation))
    }

    @Sendable func release(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("reservation_id")
        try caller.require(.writeStock(storeID: try await reservations.reservation(id: id).storeID))
        return try Answer.make(ReservationAnswer(reservation: try await reservations.release(id: id).reservation))
    }

    @Sendable func list(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        var query = ReservationQuery()
        query.storeID = try request.identifierQuery("store_id")
        query.productID = try request.identifierQuery("product_id")
        query.status = try request.enumQuery("status", as: ReservationStatus.self)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        query.limit = limit + 1
        query.beforeSequence = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeSequence(c) } }
        if let storeID = query.storeID {
            try caller.require(.readStock(storeID: storeID))
        } else {
            try caller.require(.readAllStores)
        }
        return try Answer.page(try await reservations.reservations(query), limit: limit, item: ReservationAnswer.init) { Cursor.encode(sequence: $0.sequence) }
    }
}
