import BazaarCore
import BazaarDomain
import Hummingbird

/// The dashboard's reads: the chain overview (stores with what needs action and their demand trend) and a store's
/// items with product names, stored thresholds and a status. Paged, at a fixed number of queries a page.
struct OverviewController {
    let overview: OverviewService
    let intelligence: IntelligenceService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/overview", overview)
        routes.on(group, .get, "/v1/stores/{store_id}/items", items)
    }

    /// A page of the stores the caller may read (every store, or a store key's own), in id order, each with its
    /// counts of items, stock-outs, at-risk items, items without thresholds and active alerts, and its units sold a day
    /// over the last `trend_days` days and today (from the daily demand rows: one more query a page).
    @Sendable func overview(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let limit = try Self.integer(request, "limit", in: 1...OverviewQuery.maxStores) ?? OverviewQuery.defaultStores
        let trendDays = try Self.integer(request, "trend_days", in: 1...OverviewQuery.maxTrendDays) ?? OverviewQuery.defaultTrendDays
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        let readable: Set<String>? = caller.may(.readAllStores) ? nil : caller.stores.filter { caller.may(.readStock(storeID: $0)) }
        let page = try await overview.overview(readable: readable, afterStoreID: after, limit: limit)
        let trends = try await intelligence.storeTrends(storeIDs: page.stores.map(\.store.id), days: trendDays)
        let start = RFC3339.formatDate(epochDay: trends.firstEpochDay)
        let items = try page.stores.map { o in
            try StoreOverviewAnswer(o, trend: StoreOverviewAnswer.Trend(start: start, units: trends.units[o.store.id] ?? []))
        }
        return try Answer.make(Answer.Page(items: items, nextCursor: page.next.map(Cursor.encode(identifier:))))
    }

    /// An optional integer query parameter within `range` (400 otherwise).
    static func integer(_ request: Request, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
        try request.query(name).map { text in
            guard let n = Int(text), range.contains(n) else {
                throw Problem.badParameter(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
    }

    /// A page of one store's items in product id order: level, product name, stored thresholds, days of cover, status
    /// and the number of open or acknowledged alerts.
    @Sendable func items(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        try caller.require(.readStock(storeID: storeID))
        let (limit, after) = try CatalogController.paging(request)
        let rows = try await overview.storeItems(storeID: storeID, afterProductID: after, limit: limit + 1)
        return try Answer.page(rows, limit: limit, item: StoreItemAnswer.init) { Cursor.encode(identifier: $0.productID) }
    }
}

/// An item of a store (`/v1/stores/{store_id}/items`): level, product name, status, active alerts and thresholds.
struct StoreItemAnswer: FieldAnswer {
    let item: StoreItem

    var fields: [(String, any Encodable)] {
        let level = item.level
        return [("product_id", item.productID), ("name", item.productName), ("quantity", level.quantity), ("reserved", level.reserved),
                ("available", level.quantity - level.reserved), ("incoming", level.incoming), ("version", level.version),
                ("updated_at", level.version == 0 ? nil : AnswerValue.time(level.updatedAtMillis)), ("status", item.status.rawValue),
                ("active_alerts", item.activeAlerts)]
            + ThresholdFields.of(item.thresholds, quantity: level.quantity)
    }
}
