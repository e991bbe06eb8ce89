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

/// The replenishment parameters a product and a store's override both take, each optional (a product's left out take
/// their defaults; an override's left out are the product's).
struct ReplenishmentFields {
    static let keys: Set<String> = ["lead_time_days", "review_period_days", "pack_size", "service_level", "fill_rate"]

    var leadTimeDays: Int?
    var reviewPeriodDays: Int?
    var packSize: Int?
    var serviceLevel: Double?
    /// A fill-rate target instead of `service_level` (both at once: 422, `CatalogRules.validateOneTarget`).
    var fillRate: Double?

    init(_ c: KeyedDecodingContainer<AnyKey>) throws {
        leadTimeDays = try c.integer(AnyKey(stringValue: "lead_time_days"), as: Int.self)
        reviewPeriodDays = try c.integer(AnyKey(stringValue: "review_period_days"), as: Int.self)
        packSize = try c.integer(AnyKey(stringValue: "pack_size"), as: Int.self)
        serviceLevel = try c.decodeIfPresent(Double.self, forKey: AnyKey(stringValue: "service_level"))
        fillRate = try c.decodeIfPresent(Double.self, forKey: AnyKey(stringValue: "fill_rate"))
    }
}

struct ProductBody: Decodable {
    var name: String
    var attributes: [String: JSONValue]?
    var replenishment: ReplenishmentFields

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(ReplenishmentFields.keys.union(["name", "attributes"]))
        let c = try decoder.container(keyedBy: AnyKey.self)
        name = try c.decode(String.self, forKey: AnyKey(stringValue: "name"))
        attributes = try c.decodeIfPresent([String: JSONValue].self, forKey: AnyKey(stringValue: "attributes"))
        replenishment = try ReplenishmentFields(c)
    }
}

/// Stores and products. PUT creates (201) or replaces (200); fields left out take their defaults.
struct CatalogController {
    let catalog: CatalogService

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
        let (saved, created) = try await catalog.putStore(id: id, name: body.name, attributesJSON: try JSONValue.attributesText(body.attributes))
        return try Answer.make(StoreAnswer(saved), status: created ? .created : .ok)
    }

    @Sendable func getStore(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        return try Answer.make(StoreAnswer(try await catalog.store(id: try context.identifier("store_id"))))
    }

    @Sendable func listStores(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        let (limit, after) = try Self.paging(request)
        return try Answer.page(try await catalog.stores(afterID: after, limit: limit + 1), limit: limit, item: StoreAnswer.init) {
            Cursor.encode(identifier: $0.id)
        }
    }

    @Sendable func putProduct(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.writeCatalog)
        let id = try context.identifier("product_id")
        let body = try await JSONBody.decode(ProductBody.self, from: request, context: context)
        let (saved, created) = try await catalog.putProduct(id: id, CatalogService.ProductDraft(
            name: body.name, attributesJSON: try JSONValue.attributesText(body.attributes), leadTimeDays: body.replenishment.leadTimeDays,
            reviewPeriodDays: body.replenishment.reviewPeriodDays, packSize: body.replenishment.packSize,
            serviceLevel: body.replenishment.serviceLevel, fillRate: body.replenishment.fillRate))
        return try Answer.make(ProductAnswer(saved), status: created ? .created : .ok)
    }

    @Sendable func getProduct(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        return try Answer.make(ProductAnswer(try await catalog.product(id: try context.identifier("product_id"))))
    }

    @Sendable func listProducts(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.readCatalog)
        let (limit, after) = try Self.paging(request)
        return try Answer.page(try await catalog.products(afterID: after, limit: limit + 1), limit: limit, item: ProductAnswer.init) {
            Cursor.encode(identifier: $0.id)
        }
    }

    static func paging(_ request: Request) throws -> (Int, String?) {
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        return (limit, after)
    }
}
