public import BazaarDomain

/// What needs action in one store: counts of its stock rows and active alerts (the chain overview of the dashboard).
public struct StoreCounts: Sendable, Equatable {
    public var storeID: String
    /// Stock rows of the store (store x product pairs with at least one movement).
    public var items: Int
    /// Items at or below zero.
    public var stockOuts: Int
    /// Items above zero and at or below their stored reorder point.
    public var atRisk: Int
    /// Items the stock intelligence has not evaluated yet (no stored thresholds).
    public var withoutThresholds: Int
    public var openAlerts: Int
    public var acknowledgedAlerts: Int

    public init(storeID: String, items: Int = 0, stockOuts: Int = 0, atRisk: Int = 0, withoutThresholds: Int = 0,
                openAlerts: Int = 0, acknowledgedAlerts: Int = 0) {
        self.storeID = storeID
        self.items = items
        self.stockOuts = stockOuts
        self.atRisk = atRisk
        self.withoutThresholds = withoutThresholds
        self.openAlerts = openAlerts
        self.acknowledgedAlerts = acknowledgedAlerts
    }
}

/// A store of the chain overview: the store and its counts.
public struct StoreOverview: Sendable, Equatable {
    public var store: Store
    public var counts: StoreCounts

    public init(store: Store, counts: StoreCounts) {
        self.store = store
        self.counts = counts
    }
}

/// Where an item stands against its stored thresholds.
public enum ItemStatus: String, Sendable, CaseIterable {
    /// At or below zero.
    case stockOut = "stock_out"
    /// Above zero and at or below the low-stock level (`StockThresholds.alertLevel`).
    case atRisk = "at_risk"
    /// Above the low-stock level, at or below the order-up-to level.
    case ok
    /// Above the order-up-to level.
    case aboveOrderUpTo = "above_order_up_to"
    /// The stock intelligence has not evaluated the item yet (and it is above zero).
    case noThresholds = "no_thresholds"

    public init(quantity: Int64, thresholds: StockThresholds?) {
        if quantity <= 0 { self = .stockOut; return }
        guard let t = thresholds else { self = .noThresholds; return }
        if Double(quantity) <= t.alertLevel { self = .atRisk }
        else if Double(quantity) > t.orderUpTo { self = .aboveOrderUpTo }
        else { self = .ok }
    }
}

/// One row of a store's item listing: the level, the product's name, the stored thresholds and how many alerts of
/// the item are open or acknowledged.
public struct StoreItem: Sendable, Equatable {
    public var productID: String
    /// Nil only for a product missing from the catalog (never in practice: products are never deleted).
    public var productName: String?
    public var level: StockLevel
    public var thresholds: StockThresholds?
    public var activeAlerts: Int

    public init(productID: String, productName: String?, level: StockLevel, thresholds: StockThresholds?, activeAlerts: Int) {
        self.productID = productID
        self.productName = productName
        self.level = level
        self.thresholds = thresholds
        self.activeAlerts = activeAlerts
    }

    public var status: ItemStatus { ItemStatus(quantity: level.quantity, thresholds: thresholds) }
}

/// Page sizes of the overview reads: `storeCounts` takes exactly `ReplenishmentQuery.excessWidth` store ids (padded),
/// one fixed statement text whatever the page.
/// One row of an engine's store-counts statement: part 0 carries a store's stock counts (items, stock-outs, at
/// risk, without thresholds), part 1 its alert counts (open, acknowledged in the second and third values).
public struct StoreCountsRow: Sendable {
    public var storeID: String
    public var part: Int64
    public var values: (Int, Int, Int, Int)

    public init(storeID: String, part: Int64, values: (Int, Int, Int, Int)) {
        self.storeID = storeID
        self.part = part
        self.values = values
    }
}

extension StoreCounts {
    /// The counts of `storeIDs`, in that order, from the rows of the store-counts statement (a store with neither a
    /// stock row nor an active alert is missing). The one reading of those rows, whatever the engine.
    public static func assemble(_ rows: [StoreCountsRow], in storeIDs: [String]) -> [StoreCounts] {
        var counts: [String: StoreCounts] = [:]
        for row in rows {
            var c = counts[row.storeID] ?? StoreCounts(storeID: row.storeID)
            if row.part == 0 {
                (c.items, c.stockOuts, c.atRisk, c.withoutThresholds) = row.values
            } else {
                c.openAlerts = row.values.1
                c.acknowledgedAlerts = row.values.2
            }
            counts[row.storeID] = c
        }
        return storeIDs.compactMap { counts[$0] }
    }
}

public enum OverviewQuery {
    public static let maxStores = ReplenishmentQuery.excessWidth
    public static let defaultStores = 50
    /// Days of demand trend a page of the overview may ask for (`trend_days`), and what it gets when it does not ask.
    public static let maxTrendDays = 90
    public static let defaultTrendDays = 14
}

/// Units sold a day per store over a window ending today (`IntelligenceService.storeTrends`), with the window's first
/// day: both from one reading of the clock, so an answer never names one day and counts from another.
public struct StoreTrends: Sendable {
    /// Days since 1970-01-01 (UTC) of the first point.
    public var firstEpochDay: Int64
    /// Per store asked for: one point a day, oldest first, today last.
    public var units: [String: [Int64]]
}

/// The dashboard's reads: the chain overview (stores with what needs action) and a store's items. Paged, at a fixed
/// number of queries a page whatever the chain's size; read where listings are read (a replica on MySQL).
public final class OverviewService: Sendable {
    public typealias Storage = OverviewStore & CatalogStore
    let store: any Storage
    let catalog: CatalogIndex

    public init(store: any Storage, catalog: CatalogIndex) {
        self.store = store
        self.catalog = catalog
    }

    /// A page of the chain overview: the stores the caller may read (`readable`: the key's stores, or nil for every
    /// store) after `afterStoreID`, in id order, at most `limit` (1 to `OverviewQuery.maxStores`), each with its counts.
    /// Cost: one query for the page of stores (for a store key, one per store of the page) and one aggregate query
    /// for their counts, whatever the chain's size. `next` is the last store's id when there may be more.
    public func overview(readable: Set<String>?, afterStoreID: String?, limit: Int) async throws -> (stores: [StoreOverview], next: String?) {
        precondition((1...OverviewQuery.maxStores).contains(limit))
        var stores: [Store]
        if let readable {
            let ids = readable.sorted().filter { afterStoreID == nil || $0 > afterStoreID! }.prefix(limit + 1)
            stores = []
            for id in ids { if let s = try await store.store(id: id) { stores.append(s) } }
        } else {
            stores = try await store.stores(afterID: afterStoreID, limit: limit + 1)
        }
        let more = stores.count > limit
        stores = Array(stores.prefix(limit))
        guard !stores.isEmpty else { return ([], nil) }
        let counts = try await store.storeCounts(storeIDs: stores.map(\.id))
        let byStore = Dictionary(counts.map { ($0.storeID, $0) }, uniquingKeysWith: { a, _ in a })
        let page = stores.map { StoreOverview(store: $0, counts: byStore[$0.id] ?? StoreCounts(storeID: $0.id)) }
        return (page, more ? stores.last?.id : nil)
    }

    /// A page of the store's items (`limit + 1` rows read: the extra one tells that there is a next page): one query.
    public func storeItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [StoreItem] {
        guard try await catalog.hasStore(storeID) else { throw DomainError.unknownStore(storeID) }
        return try await store.storeItems(storeID: storeID, afterProductID: afterProductID, limit: limit)
    }
}
