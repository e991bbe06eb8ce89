public import BazaarDomain

/// What stock intelligence keeps per store x product: demand history, thresholds and the store's overrides of the
/// replenishment parameters, and the replenishment reads made from them.
public protocol IntelligenceStore: Sendable {
    /// Movements of one store x product that happened at or after `sinceMillis`, in ledger order.
    func movements(storeID: String, productID: String, sinceMillis: Int64) async throws -> [Movement]
    func thresholds(storeID: String, productID: String) async throws -> StockThresholds?
    func saveThresholds(_ thresholds: StockThresholds, storeID: String, productID: String) async throws
    func replenishmentOverride(storeID: String, productID: String) async throws -> ReplenishmentOverride?
    /// Saves the store's overrides and, in the same transaction, marks the item's stored thresholds due with
    /// `dueMarker` (`IntelligenceService.dueMarker`): they were sized for the parameters replaced.
    func saveReplenishmentOverride(_ override: ReplenishmentOverride, storeID: String, productID: String, dueMarker: Int64) async throws

    /// The store's items at or below their stored reorder point and short of their stored order-up-to level, in
    /// product id order after `afterProductID`, at most `limit`: one query, from what the engine stored (nothing is
    /// computed). Read where listings are read (a replica on MySQL).
    func replenishmentItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [ReplenishmentItem]
    /// Stock above its own stored order-up-to level, of these products (1 to `ReplenishmentQuery.excessWidth`
    /// ids), in every store but `excludingStoreID`: one query.
    func excessStock(productIDs: [String], excludingStoreID: String) async throws -> [ExcessStock]
    /// How many of the store's stock rows have no stored thresholds yet (the engine has not evaluated them): one query.
    func itemsWithoutThresholds(storeID: String) async throws -> Int
}
