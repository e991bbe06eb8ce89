/// One store x product's demand on one day, kept beside the ledger (issue 14): everything `DemandHistory.daily`
/// needs from that day's movements, so that demand history is read as one row a day instead of every movement.
///
/// Rows merge: a later batch of the same day adds its sales and returns, ORs its availability, and its closing
/// level replaces the earlier one (a later batch is later in ledger order: a store x product's writes are
/// serialized by its stock row lock). `DemandDays.rollup` of the whole ledger equals the merge of the rollups of
/// any split of it into consecutive batches.
public struct DemandDay: Sendable, Equatable, Hashable {
    public var storeID: String
    public var productID: String
    /// Epoch day of the movements' `at` (UTC), the day `DemandHistory` counts them on.
    public var day: Int64
    /// Units sold (the negated deltas of `sale` movements).
    public var sold: Int64
    /// Units returned (the deltas of `return` movements).
    public var returned: Int64
    /// Some movement of the day started or ended above zero: there was stock at some point of the day.
    public var inStock: Bool
    /// The level after the day's last movement in ledger order: what the next days without movements start with.
    public var closing: Int64

    public init(storeID: String, productID: String, day: Int64, sold: Int64, returned: Int64, inStock: Bool, closing: Int64) {
        self.storeID = storeID
        self.productID = productID
        self.day = day
        self.sold = sold
        self.returned = returned
        self.inStock = inStock
        self.closing = closing
    }

    /// Demand of the day as `DemandHistory` defines it before flooring: sales minus returns.
    public var net: Int64 { sold - returned }

    /// This row followed by `later` (a later batch of the same store x product and day).
    public func merged(with later: DemandDay) -> DemandDay {
        DemandDay(storeID: storeID, productID: productID, day: day, sold: sold + later.sold, returned: returned + later.returned,
                  inStock: inStock || later.inStock, closing: later.closing)
    }
}

public enum DemandDays {
    /// The rows a batch of committed movements adds, one per store x product x day, in key order (so that
    /// engines that lock rows take them in one order). `movements` in ledger order.
    public static func rollup(_ movements: some Sequence<Movement>) -> [DemandDay] {
        var rows: [Key: DemandDay] = [:]
        rows.reserveCapacity(movements.underestimatedCount)  // a bulk load's chunk is thousands of rows: no regrowth
        for m in movements {
            let day = RFC3339.epochDay(millis: m.atMillis)
            let row = DemandDay(storeID: m.storeID, productID: m.productID, day: day,
                                sold: m.reason == .sale ? -m.delta : 0, returned: m.reason == .return ? m.delta : 0,
                                inStock: m.quantityBefore > 0 || m.quantityAfter > 0, closing: m.quantityAfter)
            let key = Key(storeID: m.storeID, productID: m.productID, day: day)
            if let index = rows.index(forKey: key) {
                rows.values[index] = rows.values[index].merged(with: row)
            } else {
                rows[key] = row
            }
        }
        return rows.sorted { $0.key < $1.key }.map(\.value)
    }

    /// One store x product's latest day carried forward by a batch's rollup of that pair (`rows`, in day order):
    /// a row of `latest`'s day merges into it (the batch is later in ledger order); a later day replaces it, and the
    /// day it replaces is `settled`; an earlier day (a backdated movement) is settled as it is. What the stock row
    /// keeps on MySQL (issue 15): the pair's latest day rides on the row every write updates anyway, and only a
    /// settled day costs a write to `stock_demand_daily`, about once a pair a day instead of once a group commit.
    /// `latest` merged after the settled rows of its own day equals the rollup of the same movements.
    public static func carry(_ latest: DemandDay?, adding rows: some Sequence<DemandDay>) -> (latest: DemandDay?, settled: [DemandDay]) {
        var latest = latest, settled: [DemandDay] = []
        for row in rows {
            guard let current = latest else { latest = row; continue }
            if row.day == current.day {
                latest = current.merged(with: row)
            } else if row.day > current.day {
                settled.append(current)
                latest = row
            } else {
                settled.append(row)
            }
        }
        return (latest, settled)
    }

    /// One store's days of demand from the two places MySQL keeps them (issue 15): `table`, the days that have
    /// settled; `latest`, at most one day a product, the one its stock row holds (later in ledger order than the
    /// table's row of the same day). Both in any order. Each product's rows come out together and in day order, a
    /// day found in both merged (`DemandDay.merged`, the table's first); products in the order first met, the
    /// table's then those with only a latest day. Products are only hashed, never ordered, so no collation matters.
    public static func merging(table: [DemandDay], latest: [DemandDay]) -> [DemandDay] {
        var products: [String] = [], byProduct: [String: [DemandDay]] = [:], latestByProduct: [String: DemandDay] = [:]
        for row in table {
            if byProduct[row.productID] == nil { products.append(row.productID) }
            byProduct[row.productID, default: []].append(row)
        }
        for row in latest {
            if byProduct[row.productID] == nil, latestByProduct[row.productID] == nil { products.append(row.productID) }
            latestByProduct[row.productID] = row
        }
        var merged: [DemandDay] = []
        merged.reserveCapacity(table.count + latest.count)
        for product in products {
            var days = (byProduct[product] ?? []).sorted { $0.day < $1.day }
            if let row = latestByProduct[product] {
                if let index = days.firstIndex(where: { $0.day >= row.day }) {
                    if days[index].day == row.day { days[index] = days[index].merged(with: row) } else { days.insert(row, at: index) }
                } else {
                    days.append(row)
                }
            }
            merged += days
        }
        return merged
    }

    struct Key: Hashable, Comparable {
        var storeID: String
        var productID: String
        var day: Int64
        static func < (a: Key, b: Key) -> Bool { (a.storeID, a.productID, a.day) < (b.storeID, b.productID, b.day) }
    }
}

extension DemandHistory {
    /// The same history as `daily(_:firstDay:lastDay:)` of the ledger, from one store x product's `DemandDay`
    /// rows (any order; days outside the range ignored) instead of its movements.
    ///
    /// A day with movements is censored when nothing was sold net and no movement found or left stock (its first
    /// movement then started at zero or below); a day without movements when the day before closed at zero or
    /// below. The level before `firstDay` is not needed: `firstDay` is the first day with movements.
    public static func daily(days: [DemandDay], firstDay: Int64, lastDay: Int64) -> (sold: [Double], censored: [Bool]) {
        guard lastDay >= firstDay else { return ([], []) }
        let count = Int(lastDay - firstDay + 1)
        var byDay = [DemandDay?](repeating: nil, count: count)
        var before: DemandDay?  // the last day with movements before `firstDay`
        for row in days {
            if row.day < firstDay {
                if row.day > (before?.day ?? .min) { before = row }
            } else if row.day <= lastDay {
                byDay[Int(row.day - firstDay)] = row
            }
        }
        var sold = [Double](repeating: 0, count: count)
        var censored = [Bool](repeating: false, count: count)
        var closing = before?.closing ?? 0
        for i in 0..<count {
            if let row = byDay[i] {
                sold[i] = Double(max(0, row.net))
                censored[i] = row.net <= 0 && !row.inStock
                closing = row.closing
            } else {
                censored[i] = closing <= 0
            }
        }
        return (sold, censored)
    }
}
