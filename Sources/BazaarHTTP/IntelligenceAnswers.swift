import BazaarCore
import BazaarDomain

/// An alert (`/v1/alerts`); the same object is the `data` of its `bazaar.stock.alert` event (`Alert.json`, kept
/// equal by `TypedAnswerTests`).
struct AlertAnswer: FieldAnswer {
    let alert: Alert

    var fields: [(String, any Encodable)] {
        [("alert_id", alert.id), ("kind", alert.kind.rawValue), ("status", alert.status.rawValue), ("store_id", alert.storeID),
         ("product_id", alert.productID), ("quantity", alert.quantity), ("threshold", AnswerValue.finite(alert.threshold)),
         ("message", alert.message), ("opened_at", AnswerValue.time(alert.openedAtMillis)),
         ("acknowledged_at", AnswerValue.time(alert.acknowledgedAtMillis)), ("acknowledged_by", alert.acknowledgedBy),
         ("resolved_at", AnswerValue.time(alert.resolvedAtMillis)), ("at", AnswerValue.time(alert.atMillis))]
    }
}

/// The threshold fields shared by the forecast answer and a suggested order; every one null when the engine has not
/// computed them yet.
enum ThresholdFields {
    static func of(_ t: StockThresholds?, quantity: Int64) -> [(String, any Encodable)] {
        [("daily_rate", AnswerValue.finite(t?.dailyRate)), ("reorder_point", AnswerValue.finite(t?.reorderPoint)),
         ("order_up_to", AnswerValue.finite(t?.orderUpTo)),
         // What `low_stock` and `at_risk` compare with (the reorder point in rows from before it was kept).
         ("low_stock_level", AnswerValue.finite(t?.alertLevel)), ("lead_time_days", t?.leadTimeDays),
         // The review period the order-up-to level covers besides the lead time (null in rows from before it was kept).
         ("review_period_days", t?.reviewPeriodDays),
         ("days_of_cover", t?.daysOfCover(quantity).flatMap { AnswerValue.finite(($0 * 10).rounded() / 10) }),
         ("thresholds_computed_at", computedAt(t)),
         // The target the thresholds were sized for: `service_level` or `fill_rate`, and its value (null before targets were kept).
         ("target", t?.target?.name), ("target_value", AnswerValue.finite(t?.target?.value))]
    }

    /// When the engine computed these thresholds; nil when it has not, or when they were marked for recomputation
    /// (a time at or below 0: after a demand anomaly or a settings PUT, `IntelligenceService.dueMarker`) and the time
    /// is no longer known.
    static func computedAt(_ t: StockThresholds?) -> String? {
        guard let t, t.computedAtMillis > 0 else { return nil }
        return AnswerValue.time(t.computedAtMillis)
    }
}

/// `GET /v1/stores/{store_id}/products/{product_id}/forecast`: what the engine stored when it last evaluated the item.
struct ForecastAnswer: FieldAnswer {
    let storeID: String
    let productID: String
    let quantity: Int64
    let stored: StockThresholds?
    let days: [Day]

    /// One day of the forecast: the daily rate and the 90% interval of one day's demand.
    struct Day: FieldAnswer {
        let day: String
        let thresholds: StockThresholds

        var fields: [(String, any Encodable)] {
            [("day", day), ("forecast", AnswerValue.finite(thresholds.dailyRate)), ("lo", AnswerValue.finite(thresholds.dailyLow)),
             ("hi", AnswerValue.finite(thresholds.dailyHigh))]
        }
    }

    /// `horizon` days from `today` (an epoch day); none when the engine has not evaluated the item.
    init(storeID: String, productID: String, quantity: Int64, stored: StockThresholds?, today: Int64, horizon: Int) {
        self.storeID = storeID
        self.productID = productID
        self.quantity = quantity
        self.stored = stored
        days = stored.map { t in (0..<horizon).map { Day(day: RFC3339.formatDate(epochDay: today + Int64($0)), thresholds: t) } } ?? []
    }

    var fields: [(String, any Encodable)] {
        [("store_id", storeID), ("product_id", productID), ("quantity", quantity), ("computed_at", ThresholdFields.computedAt(stored)),
         ("model", stored?.model), ("demand_class", stored?.demandClass), ("history_days", stored?.historyDays),
         ("censored_days", stored?.censoredDays)]
            + ThresholdFields.of(stored, quantity: quantity) + [("forecast", days)]
    }
}

/// A page of a store's replenishment plan (`GET /v1/stores/{store_id}/replenishment`).
struct ReplenishmentAnswer: FieldAnswer {
    let storeID: String
    let page: IntelligenceService.ReplenishmentPage

    struct Order: FieldAnswer {
        let order: IntelligenceService.OrderSuggestion

        var fields: [(String, any Encodable)] {
            [("product_id", order.productID), ("on_hand", order.onHand), ("inventory_position", order.position),
             ("quantity", order.quantity), ("pack_size", order.packSize)]
                + ThresholdFields.of(order.thresholds, quantity: order.onHand)
        }
    }

    struct Transfer: FieldAnswer {
        let transfer: IntelligenceService.TransferSuggestion

        var fields: [(String, any Encodable)] {
            [("product_id", transfer.productID), ("from_store_id", transfer.fromStoreID), ("to_store_id", transfer.toStoreID),
             ("quantity", transfer.quantity)]
        }
    }

    var fields: [(String, any Encodable)] {
        [("store_id", storeID), ("orders", page.orders.map(Order.init)), ("transfers", page.transfers.map(Transfer.init)),
         ("items_without_thresholds", page.itemsWithoutThresholds),
         ("next_cursor", page.nextAfterProductID.map(Cursor.encode(identifier:)))]
    }
}
