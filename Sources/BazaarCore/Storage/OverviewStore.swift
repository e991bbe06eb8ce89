/// The aggregate reads of the dashboard's chain and store views: one statement each, read where listings are read.
public protocol OverviewStore: Sendable {
    /// Counts of each of these stores' items and active alerts (1 to `OverviewQuery.maxStores` ids; stores with no
    /// stock row and no active alert may be missing): one aggregate statement, read where listings are read.
    func storeCounts(storeIDs: [String]) async throws -> [StoreCounts]
    /// A page of the store's stock rows in product id order after `afterProductID`, at most `limit`, with the product's
    /// name, the stored thresholds and the number of active alerts of each: one query, read where listings are read.
    func storeItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [StoreItem]
}
