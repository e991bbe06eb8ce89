import BazaarCore
import BazaarDomain
import Hummingbird

/// The dashboard's reads: the chain overview (stores with what needs action) and a store's items with product names,
/// stored thresholds and a status. Paged, at a fixed number of queries a page.
struct OverviewController {
    let stock: StockService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/overview", overview)
        routes.on(group, .get, "/v1/stores/{store_id}/items", items)
    }

    /// A page of the stores the caller may read (every store, or a store key's own), in id order, each with its
    /// counts of items, stock-outs, at-risk items, items without thresholds and active alerts.
    @Sendable func overview(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let limit = try request.query("limit").map { text in
            guard let n = Int(text), (1...OverviewQuery.maxStores).contains(n) else {
                throw Problem.badParameter("limit", "must be an integer from 1 to \(OverviewQuery.maxStores)")
            }
            return n
        } ?? OverviewQuery.defaultStores
        let after = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeIdentifier(c) } }
        let readable: Set<String>? = caller.may(.readAllStores) ? nil : caller.stores.filter { caller.may(.readStock(storeID: $0)) }
        let page = try await stock.overview(readable: readable, afterStoreID: after, limit: limit)
        let items = page.stores.map { o in
            let c = o.counts
            return """
                {"store_id":\(JSON.quoted(o.store.id)),"name":\(JSON.quoted(o.store.name)),"attributes":\(o.store.attributesJSON),\
                "items":\(c.items),"stock_outs":\(c.stockOuts),"at_risk":\(c.atRisk),"without_thresholds":\(c.withoutThresholds),\
                "open_alerts":\(c.openAlerts),"acknowledged_alerts":\(c.acknowledgedAlerts)}
                """
        }
        return JSONResponse.page(items, nextCursor: page.next.map(Cursor.encode(identifier:)))
    }

    /// A page of one store's items in product id order: level, product name, stored thresholds, days of cover, status
    /// and the number of open or acknowledged alerts.
    @Sendable func items(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try context.identifier("store_id")
        try caller.require(.readStock(storeID: storeID))
        let (limit, after) = try CatalogController.paging(request)
        let rows = try await stock.storeItems(storeID: storeID, afterProductID: after, limit: limit + 1)
        return JSONResponse.page(rows, limit: limit, json: Self.json) { Cursor.encode(identifier: $0.productID) }
    }

    static func json(_ item: StoreItem) -> String {
        let updated = item.level.version == 0 ? "null" : "\"\(RFC3339.format(millis: item.level.updatedAtMillis))\""
        return """
            {"product_id":\(JSON.quoted(item.productID)),"name":\(JSON.quotedOrNull(item.productName)),"quantity":\(item.level.quantity),\
            "reserved":\(item.level.reserved),"available":\(item.level.quantity - item.level.reserved),"incoming":\(item.level.incoming),\
            "version":\(item.level.version),"updated_at":\(updated),"status":"\(item.status.rawValue)","active_alerts":\(item.activeAlerts),\
            \(IntelligenceController.thresholdsJSON(item.thresholds, quantity: item.level.quantity))}
            """
    }
}
