import BazaarCommands
import BazaarCore
import BazaarDomain
import Foundation
import Hummingbird


struct BatchBody: Decodable {
    var movements: [MovementBody]
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["movements"])
        movements = try decoder.container(keyedBy: AnyKey.self).decode([MovementBody].self, forKey: AnyKey(stringValue: "movements"))
    }
}

struct TransferBody: Decodable {
    var fromStoreID: String
    var toStoreID: String
    var productID: String
    var quantity: Int64
    var reference: String?
    /// Ship now, receive later (`POST /v1/transfers/{id}/receive`); absent or false: atomic, as before.
    var inTransit: Bool

    private enum Key: String, CodingKey {
        case fromStoreID = "from_store_id", toStoreID = "to_store_id", productID = "product_id", quantity, reference, inTransit = "in_transit"
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["from_store_id", "to_store_id", "product_id", "quantity", "reference", "in_transit"])
        let c = try decoder.container(keyedBy: Key.self)
        fromStoreID = try c.decode(String.self, forKey: .fromStoreID)
        toStoreID = try c.decode(String.self, forKey: .toStoreID)
        productID = try c.decode(String.self, forKey: .productID)
        quantity = try c.requiredInteger(.quantity)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        inTransit = try c.decodeIfPresent(Bool.self, forKey: .inTransit) ?? false
    }
}

/// Stock reads and writes: the seed endpoints and their `/v1/` companions.
struct StockController {
    let stock: StockService
    let transfers: TransferService
    /// The archived periods a ledger history answer names (`bazaar archive`).
    let archives: LedgerArchives

    /// `reads`: the seed's read, whose group answers it from memory when it can (`WarmReadMiddleware`) before it
    /// authenticates as `group` does.
    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>, reads: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .post, "/update-stock/{store_id}/{product_id}", update)
        routes.on(reads, .get, "/get-stock/{store_id}/{product_id}", get)
        routes.on(group, .get, "/audit-logs", auditLogs)
        routes.on(group, .post, "/v1/movements", batch)
        routes.on(group, .post, "/v1/transfers", transfer)
        routes.on(group, .get, "/v1/stores/{store_id}/stock", storeStock)
        routes.on(group, .get, "/v1/products/{product_id}/stock", productStock)
        routes.on(group, .get, "/v1/changes", changes)
    }

    @Sendable func update(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        let productID = try context.identifier("product_id")
        try caller.require(.writeStock(storeID: storeID))
        let body = try await JSONBody.decodeMovement(from: request, context: context)
        let receipt = try await stock.write(
            [try body.command(storeID: storeID, productID: productID)], actor: caller.name,
            idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return JSONResponse.make(receipt.movements[0].writeAnswerJSON, headers: replayHeaders(receipt))
    }

    @Sendable func get(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        let productID = try context.identifier("product_id")
        try caller.require(.readStock(storeID: storeID))
        let level = try await stock.level(storeID: storeID, productID: productID)
        return JSONResponse.make(level.readAnswerJSON(storeID: storeID, productID: productID))
    }

    @Sendable func batch(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(BatchBody.self, from: request, context: context)
        guard body.movements.count <= StockService.maxBatchSize else {
            throw DomainError.invalid(field: "movements", message: "must hold at most \(StockService.maxBatchSize) movements (got \(body.movements.count))")
        }
        let commands = try body.movements.enumerated().map { index, item in
            guard let storeID = item.storeID else { throw DomainError.invalid(field: "movements[\(index)].store_id", message: "is required") }
            guard let productID = item.productID else { throw DomainError.invalid(field: "movements[\(index)].product_id", message: "is required") }
            return try item.command(storeID: storeID, productID: productID)
        }
        for command in commands { try caller.require(.writeStock(storeID: command.storeID)) }
        let receipt = try await stock.write(
            commands, actor: caller.name, idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return JSONResponse.make(
            "{\"movements\":[\(receipt.movements.map(\.writeAnswerJSON).joined(separator: ","))]}", headers: replayHeaders(receipt))
    }

    @Sendable func transfer(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(TransferBody.self, from: request, context: context)
        try Identifier.validate(body.fromStoreID, field: "from_store_id")
        try Identifier.validate(body.toStoreID, field: "to_store_id")
        try caller.require(.writeStock(storeID: body.fromStoreID))
        try caller.require(.writeStock(storeID: body.toStoreID))
        if body.inTransit {
            let change = try await transfers.ship(
                from: body.fromStoreID, to: body.toStoreID, productID: body.productID, quantity: body.quantity, reference: body.reference,
                actor: caller.name, idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
            return try Answer.made(TransferAnswer(transfer: change.transfer), replayed: change.replayed)
        }
        let receipt = try await stock.transfer(
            from: body.fromStoreID, to: body.toStoreID, productID: body.productID, quantity: body.quantity,
            reference: body.reference, actor: caller.name, idempotencyKey: request.headers[.idempotencyKey], scope: caller.keyID)
        return JSONResponse.make(
            "{\"from\":\(receipt.movements[0].writeAnswerJSON),\"to\":\(receipt.movements[1].writeAnswerJSON)}",
            headers: replayHeaders(receipt))
    }

    @Sendable func auditLogs(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        var query = AuditQuery()
        query.storeID = try request.identifierQuery("store_id")
        query.productID = try request.identifierQuery("product_id")
        query.actor = try request.keyNameQuery("actor")
        query.reason = try request.enumQuery("reason", as: MovementReason.self)
        query.sinceMillis = try time(request, "since")
        query.untilMillis = try time(request, "until")
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        query.limit = limit + 1  // one more than asked tells whether there is a next page
        query.beforeSequence = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeSequence(c) } }
        if let storeID = query.storeID {
            try caller.require(.readStock(storeID: storeID))
        } else {
            try caller.require(.readAllStores)
        }
        let (items, next) = JSONResponse.trimmed(try await stock.auditLog(query), limit: limit) { Cursor.encode(sequence: $0.sequence) }
        // After the ledger's page (see `LedgerArchives`): the archived files the query reaches; for one pair, its
        // balance at the last cut-off, so that quantity = checkpoint + the deltas of its items.
        let (archived, checkpoint) = try await archives.reached(by: query)
        let checkpointJSON = checkpoint.map { found in
            ",\"checkpoint\":" + (found.map { "{\"quantity\":\($0.quantity),\"rows\":\($0.rows)}" } ?? "null")
        } ?? ""
        return JSONResponse.make("""
            {"items":[\(items.map(\.auditJSON).joined(separator: ","))],"next_cursor":\(JSON.quotedOrNull(next)),\
            "archived":\(ArchivedPeriods.json(archived))\(checkpointJSON)}
            """)
    }

    @Sendable func storeStock(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        try caller.require(.readStock(storeID: storeID))
        try await stock.requireStore(storeID)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        return JSONResponse.page(
            try await stock.levels(storeID: storeID, afterProductID: after, limit: limit + 1), limit: limit,
            json: { $0.level.readAnswerJSON(storeID: $0.storeID, productID: $0.productID) },
            cursor: { Cursor.encode(identifier: $0.productID) })
    }

    @Sendable func productStock(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let productID = try context.identifier("product_id")
        try caller.require(.readAllStores)
        try await stock.requireProduct(productID)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        let (rows, next) = JSONResponse.trimmed(
            try await stock.levels(productID: productID, afterStoreID: after, limit: limit + 1), limit: limit
        ) { Cursor.encode(identifier: $0.storeID) }
        let total = rows.reduce(Int64(0)) { $0 + $1.level.quantity }
        let items = rows.map { $0.level.readAnswerJSON(storeID: $0.storeID, productID: $0.productID) }
        return JSONResponse.make(
            "{\"items\":[\(items.joined(separator: ","))],\"page_total_quantity\":\(total),\"next_cursor\":\(JSON.quotedOrNull(next))}")
    }

    /// The ledger in commit order after a cursor, for systems that sync. `next_cursor` is never null: poll with it.
    @Sendable func changes(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.require(.readAllStores)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeSequence(c) } } ?? 0
        let rows = try await stock.movements(afterSequence: after, limit: limit)
        let archived = try await archives.reached(afterSequence: after)
        return JSONResponse.make("""
            {"items":[\(rows.map(\.auditJSON).joined(separator: ","))],"next_cursor":\(JSON.quoted(Cursor.encode(sequence: rows.last?.sequence ?? after))),\
            "archived":\(ArchivedPeriods.json(archived))}
            """)
    }

    private func replayHeaders(_ receipt: WriteReceipt) -> HTTPFields {
        receipt.replayed ? [.idempotentReplayed: "true"] : [:]
    }

    private func time(_ request: Request, _ name: String) throws -> Int64? {
        guard let value = request.query(name) else { return nil }
        guard let millis = RFC3339.parse(value) else { throw Problem.badParameter(name, "must be an RFC 3339 time such as 2026-11-27T00:00:00Z") }
        return millis
    }
}

/// Runs a parameter parser, turning its domain error into a 400 problem.
func parameter<T>(_ parse: () throws(DomainError) -> T) throws -> T {
    do {
        return try parse()
    } catch {
        if case .invalid(let field, let message) = error { throw Problem.badParameter(field, message) }
        throw error
    }
}
