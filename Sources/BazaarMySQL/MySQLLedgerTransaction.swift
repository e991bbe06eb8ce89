import BazaarCore
import BazaarDomain
import MySQLClient

/// `LedgerTransaction` for one group commit on MySQL.
///
/// The batch's stock rows are locked up front, all at once and in key order (`SELECT ... FOR UPDATE`), so two
/// nodes' batches cannot deadlock on them. Everything a request writes is then kept in this value and written
/// by `flush` in a handful of multi-row statements: a refused request is undone in memory by `rollback(to:)`
/// (no savepoint round trips), and the batch costs a few statements, not a few per movement.
struct MySQLLedgerTransaction: LedgerTransaction {
    struct Key: Hashable, Comparable {
        var storeID: String
        var productID: String
        static func < (a: Key, b: Key) -> Bool { (a.storeID, a.productID) < (b.storeID, b.productID) }
    }

    struct LockedLevel {
        var level: StockLevel
        /// The row exists in the table (else it is inserted by `flush`).
        var stored: Bool
        var changed = false
        /// The pair's latest day of demand as its row holds it (`DemandDays.carry`), carried forward by `flush`.
        var demand: DemandDay?
    }

    let connection: MySQLConnection
    private(set) var levels: [Key: LockedLevel] = [:]
    private(set) var newMovements: [Movement] = []
    private var newEvents: [Int64] = []
    private var newIdempotency: [(claim: IdempotencyClaim, movementIDs: [String], atMillis: Int64)] = []
    /// Index of each key in `newIdempotency`.
    private var newIdempotencyIndex: [IdempotencyID: Int] = [:]
    /// The level each `writeLevel` replaced, newest last, for `rollback(to:)`.
    private var levelUndo: [(key: Key, previous: LockedLevel?)] = []
    /// Idempotency records read up front for the whole batch (a key absent here was absent in the table).
    private var storedIdempotency: [IdempotencyID: (fingerprint: String, movementIDs: [String])] = [:]
    private var prefetchedIdempotency = Set<IdempotencyID>()
    /// Keys of the batch taken as new without reading their records (`IdempotencyReads`): `anyRecorded` checks them.
    private(set) var assumedNew = Set<IdempotencyID>()
    /// Whether the records read found any of the batch's keys recorded (a redelivery, a client's retry).
    var foundRecords: Bool { !storedIdempotency.isEmpty }

    struct IdempotencyID: Hashable {
        var scope: String
        var key: String
    }

    init(connection: MySQLConnection) { self.connection = connection }

    /// Starts the batch's transaction, locks (and reads) the stock rows of every key in key order and reads the
    /// idempotency records of its claims: one round trip (`MySQLConnection.beginTransaction(with:)`), where it took
    /// one for each. With `readingRecords` false the claims' keys are taken as new (`IdempotencyReads`): the
    /// records' insert, or `anyRecorded` for a refused request, finds one that is not.
    mutating func begin(locking keys: [Key], claims: [IdempotencyClaim], readingRecords: Bool = true) throws {
        let locks = try lockReads(keys)
        let ids = Set(claims.map { IdempotencyID(scope: $0.scope, key: $0.key) }).subtracting(prefetchedIdempotency)
        let records = readingRecords ? try idempotencyReads(ids) : []
        if !readingRecords { assumedNew.formUnion(ids) }
        let results = try connection.beginTransaction(with: locks + records)
        try remember(lockedRows: results.prefix(locks.count).joined(), of: keys)
        try remember(idempotencyRows: results.dropFirst(locks.count).joined(), of: ids)
    }

    /// Locks (and reads) the stock rows of every key, in key order.
    mutating func lock(_ keys: [Key]) throws {
        var rows: [MySQLRow] = []
        for read in try lockReads(keys) { rows += try connection.query(read) }
        try remember(lockedRows: rows, of: keys)
    }

    private func lockReads(_ keys: [Key]) throws -> [String] {
        try pairConditions("store_id", "product_id", keys.map { ($0.storeID, $0.productID) }).map { condition in
            """
            \(pointLookup)SELECT \(MySQLRows.levelColumns), \(Self.demandColumns) FROM stock_levels FORCE INDEX (PRIMARY)
            WHERE \(condition) ORDER BY store_id, product_id FOR UPDATE
            """
        }
    }

    private mutating func remember(lockedRows rows: some Sequence<MySQLRow>, of keys: [Key]) throws {
        for key in keys where levels[key] == nil { levels[key] = LockedLevel(level: .empty, stored: false) }
        for row in rows {
            let key = Key(storeID: try row.string(0), productID: try row.string(1))
            levels[key] = LockedLevel(level: try MySQLRows.level(row, at: 2), stored: true, demand: try Self.demand(row, at: 8))
        }
    }

    /// The reads of the idempotency records of every claim of the batch, one statement per 500 claims, so that a
    /// batch of keyed requests (Kafka commands, retried POSTs) costs no round trip per request. A record inserted
    /// by another node after this read makes the flush fail on its primary key, and the batch is run again.
    func idempotencyReads(_ ids: Set<IdempotencyID>) throws -> [String] {
        let sorted = ids.sorted { ($0.scope, $0.key) < ($1.scope, $1.key) }
        return try pairConditions("scope", "`key`", sorted.map { ($0.scope, $0.key) }).map { condition in
            "\(pointLookup)SELECT scope, `key`, fingerprint, movement_ids FROM idempotency_keys WHERE \(condition)"
        }
    }

    private mutating func remember(idempotencyRows rows: some Sequence<MySQLRow>, of ids: Set<IdempotencyID>) throws {
        for row in rows {
            storedIdempotency[IdempotencyID(scope: try row.string(0), key: try row.string(1))] =
                (try row.string(2), try row.string(3).split(separator: ",").map(String.init))
        }
        prefetchedIdempotency.formUnion(ids)
    }

    /// How far the batch has got: what `rollback(to:)` returns to. (Undoing by position, not by restoring a copy
    /// of this value: a copy would make the next write copy every array of the batch, quadratic in its size.)
    struct Savepoint {
        fileprivate var movements: Int
        fileprivate var events: Int
        fileprivate var idempotency: Int
        fileprivate var levelUndo: Int
    }

    func savepoint() -> Savepoint {
        Savepoint(movements: newMovements.count, events: newEvents.count, idempotency: newIdempotency.count, levelUndo: levelUndo.count)
    }

    /// Forgets everything written since `savepoint` (a refused request).
    mutating func rollback(to savepoint: Savepoint) {
        newMovements.removeLast(newMovements.count - savepoint.movements)
        newEvents.removeLast(newEvents.count - savepoint.events)
        for record in newIdempotency[savepoint.idempotency...] {
            newIdempotencyIndex.removeValue(forKey: IdempotencyID(scope: record.claim.scope, key: record.claim.key))
        }
        newIdempotency.removeLast(newIdempotency.count - savepoint.idempotency)
        while levelUndo.count > savepoint.levelUndo {
            let undo = levelUndo.removeLast()
            levels[undo.key] = undo.previous
        }
    }

    // MARK: LedgerTransaction

    func idempotencyRecord(scope: String, key: String) throws -> (fingerprint: String, movementIDs: [String])? {
        let id = IdempotencyID(scope: scope, key: key)
        if let index = newIdempotencyIndex[id] {
            let pending = newIdempotency[index]
            return (pending.claim.fingerprint, pending.movementIDs)
        }
        if prefetchedIdempotency.contains(id) { return storedIdempotency[id] }
        let rows = try connection.select("SELECT fingerprint, movement_ids FROM idempotency_keys WHERE scope = ? AND `key` = ?", [scope, key])
        guard let row = rows.first else { return nil }
        return (try row.string(0), try row.string(1).split(separator: ",").map(String.init))
    }

    mutating func saveIdempotencyRecord(_ claim: IdempotencyClaim, movementIDs: [String], atMillis: Int64) throws {
        newIdempotencyIndex[IdempotencyID(scope: claim.scope, key: claim.key)] = newIdempotency.count
        newIdempotency.append((claim, movementIDs, atMillis))
    }

    mutating func lockLevel(storeID: String, productID: String) throws -> StockLevel? {
        let key = Key(storeID: storeID, productID: productID)
        if let locked = levels[key] { return locked.stored || locked.changed ? locked.level : nil }
        // Not part of the batch's up-front lock (cannot happen through `MySQLStockStore`): lock it now.
        try lock([key])
        return levels[key]?.level
    }

    mutating func writeLevel(storeID: String, productID: String, level: StockLevel, isNew: Bool) throws {
        let key = Key(storeID: storeID, productID: productID)
        levelUndo.append((key, levels[key]))
        levels[key] = LockedLevel(level: level, stored: levels[key]?.stored ?? false, changed: true, demand: levels[key]?.demand)
    }

    /// Returns a provisional sequence (negative: -1 for the batch's first movement); `flush` replaces it.
    mutating func appendMovement(_ movement: Movement) throws -> Int64 {
        var pending = movement
        pending.sequence = -Int64(newMovements.count + 1)
        newMovements.append(pending)
        return pending.sequence
    }

    mutating func appendMovementEvent(_ movement: Movement) throws {
        newEvents.append(movement.sequence)
    }

    // MARK: Flush

    /// Writes the batch: stock rows (with each pair's latest day of demand), idempotency records, settled days of
    /// demand, then ledger rows and outbox. Returns the real
    /// sequence of each provisional one (index k for provisional -(k+1)).
    ///
    /// Sequences come from `ledger_clock`, held to the commit: a batch that commits later gets higher sequences, so
    /// a reader that pages by sequence (the relay, `/v1/changes`, the audit cursor) never sees a row appear below one
    /// it has already read. The clock is one row that serializes every writer from taking it to committing, so it is
    /// taken as late as it can be: after the writes that need no sequence (stock rows, idempotency records, settled
    /// demand), which then overlap with another batch's ledger inserts and commit (issue 15: a replay of a Kafka
    /// ingestion of 100 stores on the test primary ran 14% faster so). What a batch writes before the clock is its
    /// own locked stock rows and rows keyed by them, or new keys (stock rows, idempotency records) in key order:
    /// the holder of the clock never waits for a row held by a batch waiting for it, so they cannot deadlock.
    mutating func flush() throws -> [Int64] { try flush(into: connection) }

    /// `flush` for `MySQLConnection.commitTransaction(after:)`: the writes before the clock go with the clock's
    /// update in one round trip (its answer names the sequences); the inserts of a large batch go in parts as they
    /// are built (`PipelinedStatements`: the server inserts one part while the next is built), every part answered
    /// before this returns; what is left (all of a small batch's ledger rows) is returned, to go with the `COMMIT` in
    /// one more round trip. Nothing the inserts write is read before the commit.
    mutating func flushPipelined() throws -> (sequences: [Int64], statements: [String]) {
        let pipeline = PipelinedStatements(connection: connection)
        do {
            let sequences = try flush(into: pipeline)
            return (sequences, try pipeline.finish())
        } catch {
            pipeline.abandon()
            throw error
        }
    }

    mutating func flush(into statements: some LedgerStatements) throws -> [Int64] {
        let demand = carriedDemand()
        try flushLevels(latestDemand: demand.latest, into: statements)
        try flushIdempotency(into: statements)
        if let first = newMovements.first {
            // Every key's stock row is locked by this batch, so the rows of a key are only ever written in ledger
            // order: the closing level of the later batch wins (`MySQLStockStore.upsertDemand`).
            try MySQLStockStore.upsertDemand(demand.settled, into: statements, nowMillis: first.recordedAtMillis)
        }
        let sequences = try statements.reserveSequences(newMovements.count)
        for chunk in chunks(newMovements.count, into: statements) {
            try Self.insertMovements(newMovements, sequences: sequences, chunk, into: statements)
        }
        // Each day's sequence range, for audit queries by time.
        try Self.extendLedgerDays(of: newMovements, sequences: sequences, into: statements)
        try Self.queueEvents(ofSequences: newEvents.map { provisional in sequences[Int(-provisional) - 1] }, into: statements)
        return sequences
    }

    /// Writes the stock rows the batch changed, in key order, each with its latest day of demand: new rows as plain
    /// INSERTs (a concurrent first write of the same key elsewhere fails with a duplicate key error and the batch is
    /// retried; it then finds and locks the row), existing ones as upserts.
    private func flushLevels(latestDemand: [Key: DemandDay], into statements: some LedgerStatements) throws {
        let changed = levels.filter(\.value.changed).sorted { $0.key < $1.key }.map { key, locked in
            (stored: locked.stored, row: StockRow(storeID: key.storeID, productID: key.productID, level: locked.level),
             demand: latestDemand[key] ?? locked.demand)
        }
        let inserted = changed.filter { !$0.stored }, updated = changed.filter(\.stored)
        for (rows, upsert) in [(inserted, false), (updated, true)] where !rows.isEmpty {
            for chunk in chunks(rows.count, into: statements) {
                try Self.writeLevels(rows[chunk].map { ($0.row, $0.demand) }, upsert: upsert, into: statements)
            }
        }
    }

    /// In key order, as two batches that insert the same keys (a command delivered to two nodes, a request retried
    /// on another) then wait for each other in one order, not in a cycle.
    private func flushIdempotency(into statements: some LedgerStatements) throws {
        let records = newIdempotency.sorted { ($0.claim.scope, $0.claim.key) < ($1.claim.scope, $1.claim.key) }
        guard !statements.takesBulk(rows: records.count) else {
            try statements.writeBulk(Self.insertIdempotencySQL, columns: [.text, .text, .text, .text, .int], count: records.count) { index, rows in
                try rows.append(Self.recordValues(records[index]))
            }
            return
        }
        for chunk in chunks(records.count, into: statements) {
            var values = statements.valueRows(reservingBytes: chunk.count * 160)
            for record in records[chunk] { try values.append(Self.recordValues(record)) }
            try statements.write("INSERT INTO idempotency_keys (scope, `key`, fingerprint, movement_ids, created_at_ms) VALUES \(values.text)")
        }
    }

    /// The prefix of a read of whole primary keys (every range one row at most): on MariaDB, the optimizer estimates
    /// the ranges from the index statistics instead of descending the B-tree once for each ("index dives", up to
    /// `eq_range_index_dive_limit` ranges), then reads them by the primary key all the same. Measured with the
    /// `mariadb` client against the test primary (issue 15): the locking read of 28 pairs 25-30% cheaper, of 500
    /// grouped pairs 35%. MySQL's statement is left as it was (it would take an optimizer hint, untested here).
    private var pointLookup: String { connection.isMariaDB ? "SET STATEMENT eq_range_index_dive_limit = 1 FOR " : "" }

    /// An idempotency record's values in `insertIdempotencySQL`'s column order.
    private static func recordValues(_ record: (claim: IdempotencyClaim, movementIDs: [String], atMillis: Int64)) -> [MySQLValue] {
        [.text(record.claim.scope), .text(record.claim.key), .text(record.claim.fingerprint), .text(record.movementIDs.joined(separator: ",")),
         .int(record.atMillis)]
    }

    static let insertIdempotencySQL = "INSERT INTO idempotency_keys (scope, `key`, fingerprint, movement_ids, created_at_ms) VALUES (?, ?, ?, ?, ?)"

    /// Rows of one statement: 400 at most as multi-row text; all of them where they go as bulk executions (cut to
    /// their own bounds by `LedgerStatements.writeBulk`).
    private func chunks(_ count: Int, into statements: some LedgerStatements) -> [Range<Int>] {
        if statements.takesBulk(rows: count) { return [0..<count] }
        return stride(from: 0, to: count, by: 400).map { $0..<min($0 + 400, count) }
    }
}
