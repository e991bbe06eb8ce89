import BazaarCore
import BazaarDomain
import MySQLClient

/// Each pair's latest day of demand rides on its stock row (issue 15): the group commit upserts that row anyway, so
/// keeping the day's sales, returns, availability and closing level there costs a few more columns of a write that
/// happens, where a row of `stock_demand_daily` cost an upsert of its own (two B-trees) for every pair of every group
/// commit. A day leaves the row for `stock_demand_daily` when a later day arrives (`DemandDays.carry`): about once a
/// pair a day. Readers merge the two (`MySQLStockStore.demandDays`): the table's row of a day, then the stock row's.
extension MySQLLedgerTransaction {
    /// The stock row's columns of its latest day of demand, in `demand(_:at:)`'s order (`demand_day` NULL: none yet).
    static let demandColumns = "demand_day, demand_sold, demand_returned, demand_in_stock, demand_closing"

    /// The latest day of demand of a stock row read with `demandColumns` from column `i` on.
    static func demand(_ row: MySQLRow, at i: Int) throws -> DemandDay? {
        guard let day = try row.optionalInt(i) else { return nil }
        return DemandDay(storeID: try row.string(0), productID: try row.string(1), day: day, sold: try row.int(i + 1),
                         returned: try row.int(i + 2), inStock: try row.int(i + 3) != 0, closing: try row.int(i + 4))
    }

    /// The batch's movements carried into each pair's latest day (`DemandDays.carry`, from the day its locked row
    /// held): the new latest day of every pair moved, and the days that leave the rows, in key order.
    func carriedDemand() -> (latest: [Key: DemandDay], settled: [DemandDay]) {
        var latest: [Key: DemandDay] = [:], settled: [DemandDay] = []
        var rows = DemandDays.rollup(newMovements)[...]  // in key order, a pair's days together
        while let first = rows.first {
            let key = Key(storeID: first.storeID, productID: first.productID)
            let pair = rows.prefix { $0.storeID == key.storeID && $0.productID == key.productID }
            rows = rows.dropFirst(pair.count)
            let carried = DemandDays.carry(levels[key]?.demand, adding: pair)
            latest[key] = carried.latest
            settled += carried.settled
        }
        return (latest, settled.sorted { ($0.storeID, $0.productID, $0.day) < ($1.storeID, $1.productID, $1.day) })
    }

    /// Writes stock rows with their latest day of demand, in their order: as bulk executions where the server takes
    /// them for this many rows, else one statement. `upsert` false is a plain INSERT, for rows known not to exist (a
    /// row that does then fails the statement with a duplicate key).
    static func writeLevels(_ rows: [(row: StockRow, demand: DemandDay?)], upsert: Bool, into connection: some LedgerStatements) throws {
        guard !connection.takesBulk(rows: rows.count) else {
            let sql = "INSERT INTO stock_levels (store_id, product_id, quantity, version, updated_at_ms, \(demandColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + (upsert ? "\n" + levelAndDemandUpdate : "")
            try connection.writeBulk(sql, columns: [.text, .text, .int, .int, .int, .int, .int, .int, .int, .int], count: rows.count) { index, values in
                try values.append(levelValues(rows[index].row, rows[index].demand))
            }
            return
        }
        var values = connection.valueRows(reservingBytes: rows.count * 110)
        for (row, demand) in rows { try values.append(levelValues(row, demand)) }
        try connection.write("""
            INSERT INTO stock_levels (store_id, product_id, quantity, version, updated_at_ms, \(demandColumns)) VALUES \(values.text)
            \(upsert ? Self.levelAndDemandUpdate : "")
            """)
    }

    /// A stock row's values in `writeLevels`' column order.
    private static func levelValues(_ row: StockRow, _ demand: DemandDay?) -> [MySQLValue] {
        [.text(row.storeID), .text(row.productID), .int(row.level.quantity), .int(row.level.version), .int(row.level.updatedAtMillis),
         demand.map { .int($0.day) } ?? .null, .int(demand?.sold ?? 0), .int(demand?.returned ?? 0),
         .int(demand?.inStock == true ? 1 : 0), .int(demand?.closing ?? 0)]
    }

    private static let levelAndDemandUpdate = """
        ON DUPLICATE KEY UPDATE quantity = VALUES(quantity), version = VALUES(version), updated_at_ms = VALUES(updated_at_ms),
            demand_day = VALUES(demand_day), demand_sold = VALUES(demand_sold), demand_returned = VALUES(demand_returned),
            demand_in_stock = VALUES(demand_in_stock), demand_closing = VALUES(demand_closing)
        """
}
