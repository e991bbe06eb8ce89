public import BazaarDomain

extension SharedSQL {
    /// `AlertStore.alerts`: `SELECT <alertColumns> FROM alerts WHERE ... ORDER BY seq DESC LIMIT ?` for the filters
    /// set, and its parameters, the limit last. Values are bound, never written in: one statement text per filter
    /// combination (engines cache a prepared statement per text).
    public static func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?,
                              limit: Int) -> (sql: String, parameters: [SQLParameter]) {
        var conditions: [(String, SQLParameter)] = []
        for (condition, value) in [("store_id = ?", storeID), ("product_id = ?", productID), ("kind = ?", kind?.rawValue), ("status = ?", status?.rawValue)] {
            if let value { conditions.append((condition, .text(value))) }
        }
        if let beforeSequence { conditions.append(("seq < ?", .integer(beforeSequence))) }
        let sql = "SELECT \(alertColumns) FROM alerts" + (conditions.isEmpty ? "" : " WHERE " + conditions.map(\.0).joined(separator: " AND "))
            + " ORDER BY seq DESC LIMIT ?"
        return (sql, conditions.map(\.1) + [.integer(Int64(limit))])
    }
}
