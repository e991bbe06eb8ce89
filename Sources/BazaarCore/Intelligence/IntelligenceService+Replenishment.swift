public import BazaarDomain
import BazaarForecasting
import Foundation

/// Replenishment: what a store should order, and what other stores could send it, from what the engine stored.
extension IntelligenceService {
    public struct OrderSuggestion: Sendable {
        public var productID: String
        public var onHand: Int64
        /// On hand + incoming - reserved: what the thresholds were compared with.
        public var position: Int64
        public var thresholds: StockThresholds
        public var packSize: Int
        public var quantity: Int
    }

    public struct TransferSuggestion: Sendable {
        public var productID: String
        public var fromStoreID: String
        public var toStoreID: String
        public var quantity: Int64
        /// What the suggestion was made from: the destination's inventory position and the source's own order-up-to
        /// level (whole units); acting on it expects them (`PlannedBound`).
        public var destinationPosition: Int64
        public var sourceFloor: Int64
    }

    /// One page of a store's replenishment plan.
    public struct ReplenishmentPage: Sendable {
        public var orders: [OrderSuggestion]
        public var transfers: [TransferSuggestion]
        /// The last product id of this page when there may be more (pass it back as `afterProductID`).
        public var nextAfterProductID: String?
        /// Items of the store the engine has not evaluated yet (no thresholds stored): not in the plan. Counted on
        /// the first page only (nil on the next ones).
        public var itemsWithoutThresholds: Int?
    }

    /// What a store should order (up to the order-up-to level, in whole packs) for items at or below their
    /// reorder point, after first moving the excess of other branches (stock above their own order-up-to level):
    /// a page of at most `limit` items in product id order after `afterProductID`.
    ///
    /// Served from what the engine stored (thresholds, levels), never computed here: one query for the page's
    /// items, one per `ReplenishmentQuery.excessWidth` items for transfer sources, and one count on the first page,
    /// whatever the size of the chain. `mayShowStore` says which other stores the caller may see as transfer
    /// sources; the plan is made as if the others did not exist (their ids and stock never leave this function).
    public func replenishment(storeID: String, afterProductID: String? = nil, limit: Int = Paging.defaultLimit,
                              mayShowStore: @Sendable (String) -> Bool = { _ in true }) async throws -> ReplenishmentPage {
        let rows = try await store.replenishmentItems(storeID: storeID, afterProductID: afterProductID, limit: limit + 1)
        let items = Array(rows.prefix(limit))
        let next = rows.count > limit ? items.last?.productID : nil
        // The best visible source per product: the most excess, the first store id on a tie.
        var best: [String: ExcessStock] = [:]
        var start = 0
        while start < items.count {
            let chunk = items[start..<min(items.count, start + ReplenishmentQuery.excessWidth)].map(\.productID)
            start += ReplenishmentQuery.excessWidth
            for source in try await store.excessStock(productIDs: chunk, excludingStoreID: storeID)
            where source.excess > 0 && mayShowStore(source.storeID) && source.excess > (best[source.productID]?.excess ?? 0) {
                best[source.productID] = source
            }
        }
        var orders: [OrderSuggestion] = [], transfers: [TransferSuggestion] = []
        for item in items {
            // The inventory position, not the shelf: what is already on its way is not ordered again, and what is
            // promised to customers is not counted as there.
            var need = Double(Self.shortfall(onHand: item.position, item.thresholds))
            if let source = best[item.productID] {
                let moved = min(source.excess, Int64(need.rounded(.up)), MovementCommand.maxDelta)  // what one movement may move
                transfers.append(TransferSuggestion(productID: item.productID, fromStoreID: source.storeID, toStoreID: storeID, quantity: moved,
                                                    destinationPosition: item.position, sourceFloor: source.quantity - source.excess))
                need -= Double(moved)
            }
            let pack = Double(max(1, item.packSize))
            // At most what one order line may hold, in whole packs: an order of the plan is made as suggested.
            let packs = min((need / pack).rounded(.up), (Double(PurchaseOrder.maxQuantity) / pack).rounded(.down))
            let quantity = need > 0 ? Int(packs * pack) : 0
            orders.append(OrderSuggestion(productID: item.productID, onHand: item.onHand, position: item.position, thresholds: item.thresholds,
                                          packSize: item.packSize, quantity: quantity))
        }
        let unevaluated = afterProductID == nil ? try await store.itemsWithoutThresholds(storeID: storeID) : nil
        return ReplenishmentPage(orders: orders, transfers: transfers, nextAfterProductID: next, itemsWithoutThresholds: unevaluated)
    }

    /// Up to the order-up-to level; a level beyond any real stock (thresholds from extreme demand, or not a number)
    /// is taken as 10^15, so that the arithmetic cannot trap.
    static func shortfall(onHand: Int64, _ t: StockThresholds) -> Int64 {
        let target = t.orderUpTo.isFinite ? min(max(t.orderUpTo, 0), 1e15) : 0
        return max(0, Int64(target.rounded(.up)) - max(onHand, -1_000_000_000_000_000))
    }
}
