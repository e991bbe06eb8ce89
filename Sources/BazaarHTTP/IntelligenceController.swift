import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

/// Alerts, forecasts and replenishment suggestions.
struct IntelligenceController {
    let intelligence: IntelligenceService
    let stock: StockService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/alerts", list)
        routes.on(group, .post, "/v1/alerts/{alert_id}/acknowledge", acknowledge)
        routes.on(group, .post, "/v1/alerts/{alert_id}/resolve", resolve)
        routes.on(group, .get, "/v1/stores/{store_id}/products/{product_id}/forecast", forecast)
        routes.on(group, .get, "/v1/stores/{store_id}/replenishment", replenishment)
        routes.on(group, .get, "/v1/stores/{store_id}/products/{product_id}/replenishment-settings", settings)
        routes.on(group, .put, "/v1/stores/{store_id}/products/{product_id}/replenishment-settings", putSettings)
    }

    /// The effective replenishment parameters of one store x product, and which of them the store overrides.
    @Sendable func settings(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        let productID = try context.identifier("product_id")
        try caller.require(.readStock(storeID: storeID))
        try await stock.requireCatalog(storeID: storeID, productID: productID)
        return try await settingsAnswer(storeID: storeID, productID: productID)
    }

    @Sendable func putSettings(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        let productID = try context.identifier("product_id")
        try caller.require(.writeStock(storeID: storeID))
        try await stock.requireCatalog(storeID: storeID, productID: productID)
        let f = try await JSONBody.decode(OverrideBody.self, from: request, context: context).fields
        let override = ReplenishmentOverride(leadTimeDays: f.leadTimeDays, reviewPeriodDays: f.reviewPeriodDays,
                                             packSize: f.packSize, serviceLevel: f.serviceLevel, fillRate: f.fillRate)
        try await intelligence.setOverride(override, storeID: storeID, productID: productID)
        return try await ConsistencyScope.readingOwnWrite { try await settingsAnswer(storeID: storeID, productID: productID) }
    }

    private func settingsAnswer(storeID: String, productID: String) async throws -> Response {
        let (effective, overrides) = try await intelligence.settings(storeID: storeID, productID: productID)
        return try Answer.make(ReplenishmentSettingsAnswer(storeID: storeID, productID: productID, effective: effective, overrides: overrides))
    }

    @Sendable func list(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try request.identifierQuery("store_id")
        let productID = try request.identifierQuery("product_id")
        let kind = try request.enumQuery("kind", as: AlertKind.self)
        let status = try request.enumQuery("status", as: AlertStatus.self)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let before = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeSequence(c) } }
        if let storeID { try caller.require(.readStock(storeID: storeID)) } else { try caller.require(.readAllStores) }
        let alerts = try await intelligence.alerts(storeID: storeID, productID: productID, kind: kind, status: status,
                                                  beforeSequence: before, limit: limit + 1)
        return try Answer.page(alerts, limit: limit, item: AlertAnswer.init) { Cursor.encode(sequence: $0.sequence) }
    }

    @Sendable func acknowledge(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try await change(context, to: .acknowledged)
    }

    @Sendable func resolve(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try await change(context, to: .resolved)
    }

    private func change(_ context: BazaarRequestContext, to status: AlertStatus) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("alert_id")
        let alert = try await intelligence.alert(id: id)
        try caller.require(.writeStock(storeID: alert.storeID))
        do {
            return try Answer.make(AlertAnswer(alert: try await intelligence.setStatus(alertID: id, to: status, by: caller.name)))
        } catch DomainError.invalid(_, let message) {
            throw Problem(.conflict, "alert-resolved", "Alert already resolved", message)
        }
    }

    /// The engine's forecast of one store x product: what it stored when it last evaluated the item (the model
    /// it chose, the daily rate and the 90% interval of one day's demand, repeated over `horizon` days, and the
    /// thresholds). One row read: no fit and no write here, whoever asks. An item the engine has not evaluated yet
    /// answers `computed_at: null` and an empty forecast rather than computing on the request path.
    @Sendable func forecast(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        let productID = try context.identifier("product_id")
        try caller.require(.readStock(storeID: storeID))
        let horizon = try request.query("horizon").map { text in
            guard let h = Int(text), (1...365).contains(h) else { throw Problem.badParameter("horizon", "must be an integer from 1 to 365") }
            return h
        } ?? 28
        let level = try await stock.level(storeID: storeID, productID: productID)
        let stored = try await intelligence.stored(storeID: storeID, productID: productID)
        let today = RFC3339.epochDay(millis: intelligence.clock.nowMillis())
        return try Answer.make(ForecastAnswer(storeID: storeID, productID: productID, quantity: level.quantity, stored: stored,
                                              today: today, horizon: horizon))
    }

    /// A page of the store's replenishment plan, from what the engine stored (see `IntelligenceService.replenishment`).
    /// Transfer sources are the stores the caller may read: every store for `admin`, `manager` and `reader`, only the
    /// key's own stores for a `store` key (other stores' ids and stock never reach it).
    @Sendable func replenishment(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        try caller.require(.readStock(storeID: storeID))
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        try await stock.requireStore(storeID)
        let page = try await intelligence.replenishment(storeID: storeID, afterProductID: after, limit: limit) { other in
            caller.may(.readStock(storeID: other))
        }
        return try Answer.make(ReplenishmentAnswer(storeID: storeID, page: page))
    }
}

/// A store's override of its product's replenishment parameters.
struct OverrideBody: Decodable {
    var fields: ReplenishmentFields

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(ReplenishmentFields.keys)
        fields = try ReplenishmentFields(decoder.container(keyedBy: AnyKey.self))
    }
}
