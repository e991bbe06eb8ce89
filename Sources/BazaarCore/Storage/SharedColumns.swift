/// The column lists of the tables both engines read, each in the order both engines' row readers take them (rows are
/// read by position): written once, so that one engine cannot select a column list the other does not.
extension SharedSQL {
    public static let movementColumns = """
        stock_movements.seq, movement_id, store_id, product_id, delta, quantity_before, quantity_after, version, reason, reference, \
        actor, at_ms, recorded_at_ms
        """
    public static let productColumns = """
        id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms, updated_at_ms, fill_rate
        """
    /// A stock row's level with its inventory states (`StockLevel`).
    public static let levelStateColumns = "quantity, version, updated_at_ms, reserved, incoming, state_changes"
    public static let apiKeyColumns = "id, name, role, stores, key_hash, created_at_ms, revoked_at_ms"
    public static let alertColumns = """
        seq, id, kind, status, store_id, product_id, quantity, threshold, message, opened_at_ms, acknowledged_at_ms, acknowledged_by, resolved_at_ms
        """
    public static let demandColumns = "store_id, product_id, day, sold, returned, in_stock, closing"
    public static let purchaseOrderColumns = "seq, id, store_id, supplier, reference, expected_at_ms, status, created_at_ms, updated_at_ms"
    public static let reservationColumns = """
        seq, id, store_id, product_id, quantity, status, reference, expires_at_ms, created_at_ms, updated_at_ms, movement_id
        """
    public static let transferColumns = """
        seq, id, from_store_id, to_store_id, product_id, quantity, status, received, reference, shipped_movement_id, received_movement_id, \
        created_at_ms, updated_at_ms
        """
}
