import BazaarCore
import BazaarDomain
import MySQLClient

/// Where the ledger's write statements go: to the server at once (a `MySQLConnection`: the bulk load, and writes that
/// run more statements after the ledger's), or into `PipelinedStatements`, which a group commit sends with its
/// `COMMIT`, in parts ahead of it when they are large.
protocol LedgerStatements {
    func literal(_ value: MySQLValue) throws(MySQLError) -> String
    /// An empty list of rows to build a multi-row statement's `VALUES` in.
    func valueRows(reservingBytes: Int) -> SQLValueRows
    func write(_ sql: String) throws
    /// Takes `count` sequences from `ledger_clock` after every statement written so far has run: the range ending
    /// at the clock's new value. The clock's row stays locked to the commit, which is what orders sequences by
    /// commit (see `MySQLLedgerTransaction.flush`).
    func reserveSequences(_ count: Int) throws -> [Int64]
    /// True when rows can go as one bulk execution (`MySQLConnection.executeBulk`: MariaDB).
    var takesBulk: Bool { get }
    /// Runs `sql` (one row's `INSERT`) for every row of `rows`, after every statement written so far.
    func writeBulk(_ sql: String, _ rows: MySQLBulkRows) throws
}

extension LedgerStatements {
    /// Whether `count` rows go as bulk executions rather than as multi-row text: on a server that takes them, from
    /// `bulkMinimumRows` rows. Below it a group commit keeps the text path, whose ledger rows go with its `COMMIT`
    /// (a bulk execution is a round trip of its own, the ledger clock held meanwhile).
    func takesBulk(rows count: Int) -> Bool { count >= MySQLLedgerTransaction.bulkMinimumRows && takesBulk }

    /// Writes `count` rows, each appended to a `MySQLBulkRows` by `row(index, &rows)`, as bulk executions of `sql`
    /// of at most `bulkMaxRows` rows and about `bulkMaxBytes` each (a round trip is one packet).
    func writeBulk(_ sql: String, columns: [MySQLBulkRows.ColumnType], count: Int,
                   row: (Int, inout MySQLBulkRows) throws -> Void) throws {
        let perExecution = MySQLLedgerTransaction.bulkMaxRows
        var rows = MySQLBulkRows(columns: columns, reservingRows: min(count, perExecution))
        for index in 0..<count {
            try row(index, &rows)
            if rows.count >= perExecution || rows.byteCount >= MySQLLedgerTransaction.bulkMaxBytes {
                try writeBulk(sql, rows)
                StorageMetrics.wroteInBulk(rows: rows.count)
                rows = MySQLBulkRows(columns: columns, reservingRows: min(count - index - 1, perExecution))
            }
        }
        if !rows.isEmpty {
            try writeBulk(sql, rows)
            StorageMetrics.wroteInBulk(rows: rows.count)
        }
    }
}

extension MySQLConnection: LedgerStatements {
    func write(_ sql: String) throws { try run(sql) }
    var takesBulk: Bool { supportsBulkExecution }
    func writeBulk(_ sql: String, _ rows: MySQLBulkRows) throws { try executeBulk(sql, rows) }
    func reserveSequences(_ count: Int) throws -> [Int64] {
        try MySQLLedgerTransaction.reserveSequences(count, after: [], on: self)
    }
    func valueRows(reservingBytes: Int) -> SQLValueRows { SQLValueRows(connection: self, reservingBytes: reservingBytes) }
}

/// Statements sent as they are written once they make a large part (`partBytes`), each part without waiting for
/// its answer: the server runs one part while the next is built, and the answer is read before the next goes. What
/// stays below a part's size (all of a small group commit's) is left for `finish()`'s caller to send with its
/// `COMMIT`. Needs `multiStatements`.
final class PipelinedStatements: LedgerStatements {
    let connection: MySQLConnection
    let partBytes: Int
    private var part: [String] = []
    private var bytes = 0
    private var answerPending = false

    /// `partBytes`: a quarter of `scriptParts`' bound by default; a part never goes over that bound unless one
    /// statement alone does.
    init(connection: MySQLConnection, partBytes: Int = 1 << 18) {
        self.connection = connection
        self.partBytes = partBytes
    }

    func literal(_ value: MySQLValue) throws(MySQLError) -> String { try connection.literal(value) }
    func valueRows(reservingBytes: Int) -> SQLValueRows { connection.valueRows(reservingBytes: reservingBytes) }
    var takesBulk: Bool { connection.supportsBulkExecution }

    /// What was written before runs first (sent now if it was not, its answer read), then the bulk execution, which
    /// waits for its own answer: the binary protocol has no way to send one ahead.
    func writeBulk(_ sql: String, _ rows: MySQLBulkRows) throws {
        if !part.isEmpty { try send() }
        try readAnswer()
        try connection.executeBulk(sql, rows)
    }

    func write(_ sql: String) throws {
        let size = sql.utf8.count + 2
        if !part.isEmpty, bytes + size > MySQLConnection.maxScriptBytes { try send() }
        part.append(sql)
        bytes += size
        if bytes >= partBytes { try send() }
    }

    /// The statements not sent yet go with the clock's update in one round trip, answered at once (the sequences are
    /// needed for what is written next).
    func reserveSequences(_ count: Int) throws -> [Int64] {
        guard count > 0 else { return [] }
        try readAnswer()
        let sequences = try MySQLLedgerTransaction.reserveSequences(count, after: part, on: connection)
        part = []
        bytes = 0
        return sequences
    }

    /// Reads the answer of the part sent last, and returns the statements not sent yet. Whatever fails, no answer
    /// is left unread on the connection when this returns or throws.
    func finish() throws -> [String] {
        try readAnswer()
        return part
    }

    /// Leaves the connection usable after a failure elsewhere: the part sent last is answered, its answer dropped.
    func abandon() {
        if answerPending { answerPending = false; _ = try? connection.readSentScript() }
    }

    private func send() throws {
        try readAnswer()
        try connection.sendScript(part)
        StorageMetrics.partsSentAhead.increment()
        answerPending = true
        part = []
        bytes = 0
    }

    private func readAnswer() throws {
        guard answerPending else { return }
        answerPending = false
        _ = try connection.readSentScript()
    }
}

/// The statements that write the ledger, shared by the group commit (`flush`) and the bulk load
/// (`MySQLStockStore.appendBulk`): multi-row text statements of escaped literals, a few hundred rows each (a prepared
/// statement per row count would not pay), or, for the ledger rows and idempotency records on MariaDB, bulk
/// executions of one prepared statement (`LedgerStatements.takesBulk(rows:)`).
extension MySQLLedgerTransaction {
    /// Runs `statements` (a part of writes below a packet's size), then takes `count` sequences from `ledger_clock`,
    /// in one round trip: the range ending at the clock's new value, which the update's own answer carries (its
    /// insert id; none of the statements before it writes a table with an auto-increment). Without the clock's row
    /// the update changes nothing and answers no id, which is refused.
    static func reserveSequences(_ count: Int, after statements: [String], on connection: MySQLConnection) throws -> [Int64] {
        guard count > 0 else { return [] }
        let taken = Int64(count)
        let update = "UPDATE ledger_clock SET seq = LAST_INSERT_ID(seq + \(taken)) WHERE id = 1"
        let last = Int64(try connection.run((statements + [update]).joined(separator: ";\n")).lastInsertID)
        guard last >= taken else { throw MySQLError(code: MySQLError.corruptData, message: "ledger_clock is missing its row") }
        return (0..<taken).map { last - taken + 1 + $0 }
    }

    /// Rows of a statement from which a group commit's inserts go as bulk executions (see
    /// `LedgerStatements.takesBulk(rows:)`): a Kafka batch's thousands; the HTTP load's group commits (tens of rows)
    /// keep their one round trip with the `COMMIT` (a threshold of 32 measured no different there, within the
    /// machine's noise: BENCHMARKS.md). A few HTTP requests of 100 movements each reach it too.
    static let bulkMinimumRows = 400
    /// Rows of one bulk execution: a few round trips for a transaction of thousands.
    static let bulkMaxRows = 2000
    /// Bytes of one bulk execution, about (`MySQLBulkRows.byteCount`): a round trip is one packet, and a server
    /// refuses one over its `max_allowed_packet` (4 MiB on older servers).
    static let bulkMaxBytes = 1 << 19

    static let insertMovementSQL = """
        INSERT INTO stock_movements (seq, movement_id, store_id, product_id, delta, quantity_before, quantity_after, version, reason,
            reference, actor, at_ms, recorded_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let movementColumnTypes: [MySQLBulkRows.ColumnType] = [.int, .text, .text, .text, .int, .int, .int, .int, .text, .text, .text, .int, .int]

    /// A ledger row's values in `insertMovementSQL`'s column order.
    private static func movementValues(_ m: Movement, sequence: Int64) -> [MySQLValue] {
        [.int(sequence), .text(m.movementID), .text(m.storeID), .text(m.productID), .int(m.delta), .int(m.quantityBefore),
         .int(m.quantityAfter), .int(m.version), .text(m.reason.rawValue), m.reference.map(MySQLValue.text) ?? .null, .text(m.actor),
         .int(m.atMillis), .int(m.recordedAtMillis)]
    }

    /// Inserts `movements[range]`, each with its sequence (`sequences[i]` is `movements[i]`'s): as bulk executions
    /// where the server takes them for this many rows, else one multi-row statement.
    static func insertMovements(_ movements: [Movement], sequences: [Int64], _ range: Range<Int>, into connection: some LedgerStatements) throws {
        guard !connection.takesBulk(rows: range.count) else {
            try connection.writeBulk(insertMovementSQL, columns: movementColumnTypes, count: range.count) { offset, rows in
                let index = range.lowerBound + offset
                try rows.append(movementValues(movements[index], sequence: sequences[index]))
            }
            return
        }
        var values = connection.valueRows(reservingBytes: range.count * 200)
        for index in range { try values.append(movementValues(movements[index], sequence: sequences[index])) }
        try connection.write("""
            INSERT INTO stock_movements (seq, movement_id, store_id, product_id, delta, quantity_before, quantity_after, version, reason,
                reference, actor, at_ms, recorded_at_ms) VALUES \(values.text)
            """)
    }

    /// Queues these movements' events in the outbox: one row of `outbox_ranges` for each run of consecutive
    /// sequences (a group commit's movements are one run: their sequences come from one `reserveSequences`). A
    /// range is keyed by its first sequence, so the outbox is read in commit order too.
    static func queueEvents(ofSequences sequences: some Sequence<Int64>, into connection: some LedgerStatements) throws {
        let values = OutboxRange.runs(of: sequences).map { "(\($0.first),\($0.last))" }
        guard !values.isEmpty else { return }
        try connection.write("INSERT INTO outbox_ranges (seq, last_seq) VALUES \(values.joined(separator: ","))")
    }

    /// Writes stock rows and leaves their latest day of demand as it was (the bulk load: its demand goes to
    /// `stock_demand_daily`; the group commit writes the day with `writeLevels`): one statement. `upsert` false is a
    /// plain INSERT, for rows known not to exist (a row that does then fails the statement with a duplicate key).
    static func writeLevelsKeepingDemand(_ rows: some Collection<StockRow>, upsert: Bool, into connection: some LedgerStatements) throws {
        var values = connection.valueRows(reservingBytes: rows.count * 80)
        for row in rows {
            try values.append(.text(row.storeID), .text(row.productID), .int(row.level.quantity), .int(row.level.version),
                              .int(row.level.updatedAtMillis))
        }
        try connection.write("""
            INSERT INTO stock_levels (store_id, product_id, quantity, version, updated_at_ms) VALUES \(values.text)
            \(upsert ? "ON DUPLICATE KEY UPDATE quantity = VALUES(quantity), version = VALUES(version), updated_at_ms = VALUES(updated_at_ms)" : "")
            """)
    }

    /// Widens (or creates) the `ledger_days` rows of these movements' days to their sequences (`AuditQuery.ledgerDays`):
    /// one statement, days in order. After the clock, like every writer of the ledger, so these rows are locked in one order.
    static func extendLedgerDays(of movements: [Movement], sequences: [Int64], into connection: some LedgerStatements) throws {
        guard !movements.isEmpty else { return }
        let days = AuditQuery.ledgerDayRanges(of: movements, sequences: sequences)
        let values = days.sorted { $0.key < $1.key }.map { "(\($0.key),\($0.value.lowerBound),\($0.value.upperBound))" }
        try connection.write("""
            INSERT INTO ledger_days (day, min_seq, max_seq) VALUES \(values.joined(separator: ","))
            ON DUPLICATE KEY UPDATE min_seq = LEAST(min_seq, VALUES(min_seq)), max_seq = GREATEST(max_seq, VALUES(max_seq))
            """)
    }

    /// `WHERE` conditions that match exactly these pairs of the two columns, one per 500 pairs (sorted by their first
    /// value, as both callers do). A first value shared by four pairs or more is written `(a = x AND b IN (...))`, the
    /// rest as one row `IN` list. MariaDB's range analysis of a row `IN` list costs more per tuple the more tuples
    /// share their first part (issue 15): locking 500 pairs of 5 stores took 22 ms as a row list and 2.7 ms grouped,
    /// 60 pairs of 10 stores 30% less grouped, while 28 pairs of 10 stores were 8% cheaper as a row list (measured
    /// with the `mariadb` client against the test primary). `perf` had the row lists at 15% of both servers' CPU
    /// during Kafka ingestion, whose batches hold thousands of one partition's pairs.
    func pairConditions(_ first: String, _ second: String, _ pairs: [(String, String)]) throws -> [String] {
        try stride(from: 0, to: pairs.count, by: 500).map { start in
            var groups: [(first: String, seconds: [String])] = []
            for (a, b) in pairs[start..<min(start + 500, pairs.count)] {
                if groups.last?.first == a { groups[groups.count - 1].seconds.append(b) } else { groups.append((a, [b])) }
            }
            var terms: [String] = [], singles: [String] = []
            for group in groups {
                let a = try connection.literal(.text(group.first))
                if group.seconds.count < 4 {
                    for b in group.seconds { singles.append("(\(a),\(try connection.literal(.text(b))))") }
                } else {
                    terms.append("(\(first) = \(a) AND \(second) IN (\(try group.seconds.map { try connection.literal(.text($0)) }.joined(separator: ","))))")
                }
            }
            if !singles.isEmpty { terms.append("(\(first), \(second)) IN (\(singles.joined(separator: ",")))") }
            return "(" + terms.joined(separator: " OR ") + ")"
        }
    }
}
