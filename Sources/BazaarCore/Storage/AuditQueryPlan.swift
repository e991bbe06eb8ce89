public import BazaarDomain

/// How every `/audit-logs` query is answered from an index that gives its newest-first order, whatever its filters and
/// the ledger's size (issue 14: p99 under 50 ms on a ledger of tens of millions of rows).
///
/// Two rules, shared by the engines:
/// - **One index per filter set, chosen here, not by the planner.** Each ledger index ends with `seq`, so an equality
///   prefix walks its rows newest first and stops after `limit` matches. The most selective filter leads: a store x
///   product, a store, a product, an actor with a reason, an actor, a reason, else the primary key. The engines name
///   it in the statement (SQLite `INDEXED BY` / `NOT INDEXED`, MySQL `FORCE INDEX`), so a planner guessing from
///   missing statistics cannot pick a full scan and sort (the issue saw 1.5 s), and `AuditPlanTests` can hold every
///   filter set to an index with `EXPLAIN`.
/// - **A time window is a sequence range.** `at` is when a movement happened (a till may send it days later), so no
///   index on it gives the ledger's order; but `ledger_days` keeps, per UTC day of `at`, the lowest and highest
///   sequence of that day's rows, kept by every ledger write. A window's days give a sequence range that holds every
///   row of the window, and the chosen index walks only that range (rows in it from other days are filtered out). A
///   ledger recorded as it happens keeps each day's range narrow; a row recorded long after its day widens that
///   day's range, which costs reads (bounded by `database.statement_timeout_ms`), never a wrong answer.
extension AuditQuery {
    /// Milliseconds in a `ledger_days` day (UTC).
    public static let dayMillis: Int64 = 86_400_000

    /// The `ledger_days` day of a time (`at_ms / 86400000`, truncated like SQL integer division: a monotone function
    /// of the time, which is all the range needs).
    public static func ledgerDay(ofMillis millis: Int64) -> Int64 { millis / dayMillis }

    /// Each day's range of sequences among rows written together (`sequences[i]` is `movements[i]`'s): what their
    /// write widens the `ledger_days` rows to cover.
    public static func ledgerDayRanges(of movements: [Movement], sequences: [Int64]) -> [Int64: ClosedRange<Int64>] {
        var days: [Int64: ClosedRange<Int64>] = [:]
        for (movement, sequence) in zip(movements, sequences) {
            let day = ledgerDay(ofMillis: movement.atMillis)
            days[day] = days[day].map { min($0.lowerBound, sequence)...max($0.upperBound, sequence) } ?? sequence...sequence
        }
        return days
    }

    /// The days (inclusive) a time filter reaches, nil without one; an empty window gives an empty range (`first > last`).
    public var ledgerDays: (first: Int64, last: Int64)? {
        guard sinceMillis != nil || untilMillis != nil else { return nil }
        let first = sinceMillis.map(Self.ledgerDay(ofMillis:)) ?? Int64.min
        let last = untilMillis.map { $0 == Int64.min ? Int64.min : Self.ledgerDay(ofMillis: $0 - 1) } ?? Int64.max
        if let since = sinceMillis, let until = untilMillis, until <= since { return (1, 0) }
        return (first, last)
    }

    /// The ledger index that answers this filter set, nil for the primary key (`seq`).
    public var indexName: String? {
        if storeID != nil && productID != nil { return "stock_movements_by_level" }
        if storeID != nil { return "stock_movements_by_store" }
        if productID != nil { return "stock_movements_by_product" }
        if actor != nil && reason != nil { return "stock_movements_by_actor_reason" }
        if actor != nil { return "stock_movements_by_actor" }
        if reason != nil { return "stock_movements_by_reason" }
        return nil
    }

    /// `SELECT <columns> FROM stock_movements <index> WHERE ... ORDER BY seq DESC LIMIT ?`, with `seq BETWEEN ? AND ?`
    /// when `sequences` (the window's range from `ledger_days`) is given. `index` renders the engine's clause for
    /// `indexName`. Like `sql(selecting:)`, the text depends only on which filters are set, never on their values.
    public func sql(selecting columns: String, sequences: ClosedRange<Int64>?, index: (String?) -> String) -> String {
        var conditions = conditions.map(\.sql)
        if sequences != nil { conditions.append("seq BETWEEN ? AND ?") }
        return "SELECT \(columns) FROM stock_movements \(index(indexName))"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY seq DESC LIMIT ?"
    }

    /// The values of `sql(selecting:sequences:index:)`'s placeholders, in order.
    public func parameters(sequences: ClosedRange<Int64>?) -> [SQLParameter] {
        conditions.map(\.parameter) + (sequences.map { [.integer($0.lowerBound), .integer($0.upperBound)] } ?? []) + [.integer(Int64(limit))]
    }

    /// The statement that reads a window's sequence range from `ledger_days` (two parameters: the first and last day);
    /// it answers one row, NULLs when no day of the window has a movement.
    public static let ledgerDaysSQL = "SELECT MIN(min_seq), MAX(max_seq) FROM ledger_days WHERE day BETWEEN ? AND ?"
}
