import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

struct StoreBody: Decodable {
    var name: String
    var attributes: [String: JSONValue]?

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["name", "attributes"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        name = try c.decode(String.self, forKey: AnyKey(stringValue: "name"))
        attributes = try c.decodeIfPresent([String: JSONValue].self, forKey: AnyKey(stringValue: "attributes"))
    }
}

struct ProductBody: Decodable {
    var name: String
    var attributes: [String: JSONValue]?
    var leadTimeDays: Int?
    var reviewPeriodDays: Int?
    var packSize: Int?
    var serviceLevel: Double?

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["name", "attributes", "lead_time_days", "review_period_days", "pack_size", "service_level"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        name = try c.decode(String.self, forKey: AnyKey(stringValue: "name"))
        attributes = try c.decodeIfPresent([String: JSONValue].self, forKey: AnyKey(stringValue: "attributes"))
        leadTimeDays = try c.integer(AnyKey(stringValue: "lead_time_days"), as: Int.self)
        reviewPeriodDays = try c.integer(AnyKey(stringValue: "review_period_days"), as: Int.self)
        packSize = try c.integer(AnyKey(stringValue: "pack_size"), as: Int.self)
        serviceLevel = try c.decodeIfPresent(Double.self, forKey: AnyKey(stringValue: "service_level"))
    }
}

/// Stores and products. PUT creates (201) or replaces (200); fields left out take their defaults.
struct CatalogController {
    let stock: StockService
    let clock: WallClock

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/stores", listStores)
        routes.on(group, .get, "/v1/stores/{store_id}", getStore)
        routes.on(group, .put, "/v1/stores/{store_id}", putStore)
        routes.on(group, .get, "/v1/products", listProducts)
        routes.on(group, .get, "/v1/products/{product_id}", getProduct)
        routes.on(group, .put, "/v1/products/{product_id}", putProduct)
    }

    @Sendable func putStore(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.writeCatalog)
        let id = try context.identifier("store_id")
        let body = try await JSONBody.decode(StoreBody.self, from: request, context: context)
        try CatalogRules.validateName(body.name)
        let now = clock.nowMillis()
        let created = try await stock.store.upsertStore(
            Store(id: id, name: body.name, attributesJSON: try JSONValue.attributesText(body.attributes), createdAtMillis: now, updatedAtMillis: now))
        stock.catalog.addStore(id)
        guard let saved = try await stock.store.store(id: id) else { throw DomainError.unknownStore(id) }
        return JSONResponse.make(Self.json(saved), status: created ? .created : .ok)
    }

    @Sendable func getStore(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        let id = try context.identifier("store_id")
        guard let store = try await stock.store.store(id: id) else { throw DomainError.unknownStore(id) }
        return JSONResponse.make(Self.json(store))
    }

    @Sendable func listStores(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        let (limit, after) = try Self.paging(request)
        return JSONResponse.page(try await stock.store.stores(afterID: after, limit: limit + 1), limit: limit, json: Self.json) {
            Cursor.encode(identifier: $0.id)
        }
    }

    @Sendable func putProduct(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.writeCatalog)
        let id = try context.identifier("product_id")
        let body = try await JSONBody.decode(ProductBody.self, from: request, context: context)
        try CatalogRules.validateName(body.name)
        let product = Product(
            id: id, name: body.name, attributesJSON: try JSONValue.attributesText(body.attributes),
            leadTimeDays: body.leadTimeDays ?? Product.defaultLeadTimeDays,
            reviewPeriodDays: body.reviewPeriodDays ?? Product.defaultReviewPeriodDays,
            packSize: body.packSize ?? Product.defaultPackSize, serviceLevel: body.serviceLevel ?? Product.defaultServiceLevel,
            createdAtMillis: clock.nowMillis(), updatedAtMillis: clock.nowMillis())
        try CatalogRules.validateReplenishment(
            leadTimeDays: product.leadTimeDays, reviewPeriodDays: product.reviewPeriodDays, packSize: product.packSize,
            serviceLevel: product.serviceLevel)
        let created = try await stock.store.upsertProduct(product)
        stock.catalog.addProduct(id)
        guard let saved = try await stock.store.product(id: id) else { throw DomainError.unknownProduct(id) }
        return JSONResponse.make(Self.json(saved), status: created ? .created : .ok)
    }

    @Sendable func getProduct(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        let id = try context.identifier("product_id")
        guard let product = try await stock.store.product(id: id) else { throw DomainError.unknownProduct(id) }
        return JSONResponse.make(Self.json(product))
    }

    @Sendable func listProducts(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        let (limit, after) = try Self.paging(request)
        return JSONResponse.page(try await stock.store.products(afterID: after, limit: limit + 1), limit: limit, json: Self.json) {
            Cursor.encode(identifier: $0.id)
        }
    }

    static func paging(_ request: Request) throws -> (Int, String?) {
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        return (limit, after)
    }

    static func json(_ s: Store) -> String {
        """
        {"id":"\(s.id)","name":\(JSON.quoted(s.name)),"attributes":\(s.attributesJSON),\
        "created_at":"\(RFC3339.format(millis: s.createdAtMillis))","updated_at":"\(RFC3339.format(millis: s.updatedAtMillis))"}
        """
    }

    static func json(_ p: Product) -> String {
        """
        {"id":"\(p.id)","name":\(JSON.quoted(p.name)),"attributes":\(p.attributesJSON),"lead_time_days":\(p.leadTimeDays),\
        "review_period_days":\(p.reviewPeriodDays),"pack_size":\(p.packSize),"service_level":\(p.serviceLevel),\
        "created_at":"\(RFC3339.format(millis: p.createdAtMillis))","updated_at":"\(RFC3339.format(millis: p.updatedAtMillis))"}
        """
    }
}
