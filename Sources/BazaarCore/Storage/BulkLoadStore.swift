public import BazaarDomain

/// Ledger history written straight into storage, in large transactions, for `bazaar demo` at chain sizes (issue 14):
/// a million store x product pairs with weeks of history is tens of millions of movements, which the write path
/// (a request, a savepoint and an outbox row per movement) takes tens of minutes to record and the relay hours to
/// publish.
///
/// What a chunk leaves is what the write path would have left: every ledger row with its audit fields, versions
/// counting each pair's rows, each pair's stock row equal to the sum of its ledger (invariant 1), the time index of
/// audit queries (`ledger_days`) and the daily demand rows (`DemandStore`) equal to what the ledger implies, at every
/// commit; except that an engine may hold a chunk's demand rows aside, in the chunk's transaction, for
/// `finishBulkLoad` to merge, if every start of a store merges what a load killed before its end held aside
/// (SQLite does, when the load has the file alone: `SQLiteStagedDemand`).
/// What it does not do, on purpose: no outbox rows (history is not news: consumers, webhooks and other nodes are not
/// told of movements that happened before the chain existed), no idempotency records (nothing is retried), no alert
/// evaluation (the intelligence's own pass evaluates the pairs).
public protocol BulkLoadStore: Sendable {
    /// True when the ledger has no row and no stock row exists: a bulk load only ever starts on an empty ledger, so
    /// the versions and sums it computes in memory are the whole truth.
    func ledgerIsEmpty() async throws -> Bool

    /// Called once before the first chunk, on an empty ledger: the engine may set aside what only serves reads and
    /// costs a load most (SQLite: the ledger's secondary indexes), for `finishBulkLoad` to build again. Reads that
    /// need them meanwhile still answer, more slowly; a load killed in between leaves them to the next start.
    func beginBulkLoad() async throws

    /// Creates (or replaces) these stores and products in one transaction: a chain's catalog at once, where an
    /// upsert each would cost a commit each.
    func insertCatalog(stores: [Store], products: [Product]) async throws

    /// Writes one chunk in one transaction: `movements` get the next ledger sequences in the order given (their
    /// `sequence` is ignored), and each of `levels` becomes its pair's stock row (created, or replaced with the
    /// quantity, version and time the chunk left; reservations and incoming stock are untouched). The caller keeps the
    /// two consistent: a pair's level is the sum of all its movements so far, its version their count.
    func appendBulk(_ chunk: BulkLedgerChunk) async throws

    /// Called once after the last chunk: whatever the engine needs so that the write path carries on from the loaded
    /// ledger (MySQL: the commit-order sequence clock moved past the loaded rows), what `beginBulkLoad` set aside,
    /// and so that its query planner knows the tables' new sizes.
    func finishBulkLoad() async throws
}

/// One transaction of a bulk load.
public struct BulkLedgerChunk: Sendable {
    public var movements: [Movement]
    public var levels: [StockRow]
    /// The daily demand rows the movements add (`DemandDays.rollup(movements)`, as a set: any order), when the
    /// caller already knows them: a generator that makes each pair's day at once has them for free, where rolling
    /// up a chunk of a quarter of a million movements through a dictionary of string keys and a sort was over a
    /// quarter of the SQLite load's time (issue 14, BENCHMARKS.md). An engine may write these instead of rolling the
    /// movements up (SQLite does; MariaDB rolls up either way); nil: it must roll them up. Either way rows are
    /// merged (a later chunk's row of the same day adds to the earlier), so a pair's day split over two chunks is exact.
    public var demand: [DemandDay]?
    /// Also queue each movement's event in the outbox, as the write path does (`bazaar demo --publish-history`: for
    /// small demos whose consumers should see the history; off by default, see `BulkLoadStore`).
    public var publish: Bool

    public init(movements: [Movement] = [], levels: [StockRow] = [], demand: [DemandDay]? = nil, publish: Bool = false) {
        self.movements = movements
        self.levels = levels
        self.demand = demand
        self.publish = publish
    }
}
