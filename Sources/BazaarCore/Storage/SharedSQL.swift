/// SQL that SQLite and MySQL/MariaDB accept as the same text, written once for both engines: they differ in how
/// they bind arguments and read rows, not in what these statements say. (Filters are built the same way:
/// `AuditQuery.sql(selecting:)`.)
public enum SharedSQL {
    /// The columns of stored `StockThresholds`, in the order each engine's row reader takes them (then the target
    /// they were sized for, `StockThresholds.targetColumns`, the low-stock level, and the review period they were
    /// sized for). Statements select them last, after their own columns: readers take them from an offset on.
    public static let thresholdColumns = ["daily_rate", "reorder_point", "order_up_to", "lead_time_days", "anomaly_above", "history_days",
                                          "computed_at_ms", "model", "demand_class", "censored_days", "dispersion", "daily_lo", "daily_hi",
                                          "service_level", "fill_rate", "low_stock_level", "review_period_days"]

    /// `IntelligenceStore.replenishmentItems`: a store's items at or below their reorder point by inventory position
    /// (on hand + incoming - reserved) and short of their order-up-to level, in product id order. Arguments: store id,
    /// the product id to start after ("" for the first page), the limit. Columns: product id, on hand, pack size
    /// (the store's override, else the product's), position, then `thresholdColumns`.
    public static let replenishmentItems = """
        SELECT l.product_id, l.quantity, COALESCE(o.pack_size, p.pack_size, 1), l.quantity + l.incoming - l.reserved,
            \(thresholdColumns.map { "t." + $0 }.joined(separator: ", "))
        FROM stock_levels l JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
        LEFT JOIN products p ON p.id = l.product_id
        LEFT JOIN replenishment_overrides o ON o.store_id = l.store_id AND o.product_id = l.product_id
        WHERE l.store_id = ? AND l.product_id > ? AND l.quantity + l.incoming - l.reserved <= t.reorder_point
            AND t.order_up_to > l.quantity + l.incoming - l.reserved
        ORDER BY l.product_id LIMIT ?
        """

    /// `IntelligencePassStore.recomputeCandidates`: every stock row of a store with when its thresholds were computed,
    /// when its level and its product last changed, and its replenishment parameters (the store's override, else the
    /// product's; a store's target, service level or fill rate, replaces the product's whole, as
    /// `ReplenishmentOverride.applied(to:)` does), then the target, lead time and review period the stored thresholds
    /// were sized for. Argument: the store id. Columns in that order.
    public static let recomputeCandidates = recomputeCandidates(productPlaceholders: nil)

    /// `recomputeCandidates`, for the store's items among as many products as `productPlaceholders` holds (`?, ?`),
    /// arguments the store id then the product ids; nil: every item of the store.
    public static func recomputeCandidates(productPlaceholders: String?) -> String {
        """
        SELECT l.product_id, t.computed_at_ms, l.updated_at_ms, p.updated_at_ms, COALESCE(o.lead_time_days, p.lead_time_days),
            COALESCE(o.review_period_days, p.review_period_days), COALESCE(o.pack_size, p.pack_size), COALESCE(o.service_level, p.service_level),
            CASE WHEN o.fill_rate IS NOT NULL THEN o.fill_rate WHEN o.service_level IS NOT NULL THEN NULL ELSE p.fill_rate END,
            t.service_level, t.fill_rate, t.lead_time_days, t.review_period_days
        FROM stock_levels l
        LEFT JOIN stock_thresholds t ON t.store_id = l.store_id AND t.product_id = l.product_id
        LEFT JOIN products p ON p.id = l.product_id
        LEFT JOIN replenishment_overrides o ON o.store_id = l.store_id AND o.product_id = l.product_id
        WHERE l.store_id = ?\(productPlaceholders.map { " AND l.product_id IN (\($0))" } ?? "") ORDER BY l.product_id
        """
    }
}
