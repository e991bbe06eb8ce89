public import BazaarCore
public import BazaarDomain
import GRDB
import GRDBSQLite
import Glibc

/// Bulk history on SQLite (`bazaar demo` at chain sizes): a chunk is one transaction on the writer, prepared
/// statements reused for every row, nothing in the outbox.
extension SQLiteStockStore: BulkLoadStore {
    public func ledgerIsEmpty() async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT NOT EXISTS (SELECT 1 FROM stock_movements) AND NOT EXISTS (SELECT 1 FROM stock_levels)") ?? false
        }
    }

    public func insertCatalog(stores: [Store], products: [Product]) async throws {
        try await pool.write { db in
            let store = try db.makeStatement(sql: """
                INSERT OR REPLACE INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?)
                """)
            for s in stores { try store.execute(arguments: [s.id, s.name, s.attributesJSON, s.createdAtMillis, s.updatedAtMillis]) }
            let product = try db.makeStatement(sql: """
                INSERT OR REPLACE INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level,
                    created_at_ms, updated_at_ms, fill_rate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for p in products {
                try product.execute(arguments: [p.id, p.name, p.attributesJSON, p.leadTimeDays, p.reviewPeriodDays, p.packSize, p.serviceLevel,
                                                p.createdAtMillis, p.updatedAtMillis, p.fillRate])
            }
        }
    }

    public func appendBulk(_ chunk: BulkLedgerChunk) async throws {
        try await pool.writeWithoutTransaction { db in
            // The ledger's indexes of a chain outgrow SQLite's default 2 MB page cache many times over: 256 MB for the
            // writer while it loads (set again on each chunk: the writer connection is GRDB's, and cheap to ask).
            try db.execute(sql: "PRAGMA cache_size = -262144")
            try db.inTransaction(.immediate) {
                let sequences = try Self.insertMovements(chunk.movements, publish: chunk.publish, db: db)
                try Self.writeLevels(chunk.levels, db: db)
                let day = try db.makeStatement(sql: SQLiteLedgerTransaction.extendLedgerDay)
                for (key, range) in AuditQuery.ledgerDayRanges(of: chunk.movements, sequences: sequences) {
                    try day.execute(arguments: [key, range.lowerBound, range.upperBound])
                }
                // Daily demand (issue 14), as every ledger write keeps it: the caller's rows when it made them. Staged
                // for one merge at the end when the load has the database alone (`SQLiteStagedDemand`).
                let nowMillis = chunk.movements.last?.recordedAtMillis ?? 0
                let sql = try SQLiteStagedDemand.isActive(db) ? SQLiteStagedDemand.insert : Self.upsertDemand
                try Self.writeDemand(chunk.demand ?? DemandDays.rollup(chunk.movements), sql: sql, db: db, nowMillis: nowMillis)
                return .commit
            }
        }
    }

    /// Movements bound in one INSERT (`insertMovements`): a statement's own work (its reset, its opening of the
    /// table and index cursors) is then paid once for that many rows.
    static let movementsPerInsert = 50

    static func insertMovementsSQL(rows: Int) -> String {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        return """
            INSERT INTO stock_movements (movement_id, store_id, product_id, delta, quantity_before, quantity_after,
                version, reason, reference, actor, at_ms, recorded_at_ms) VALUES \(Array(repeating: row, count: rows).joined(separator: ", "))
            """
    }

    /// Inserts the movements (and their events in the outbox when `publish`), answering the sequence each was given.
    /// Bound through SQLite's own calls: GRDB's argument arrays cost more than the insert at these counts. Without
    /// events, `movementsPerInsert` rows a statement: the ledger's `seq` is `AUTOINCREMENT` and this transaction the
    /// only writer, so the rows of one INSERT get consecutive sequences in the order given, ending at the last
    /// inserted row id (checked on each statement: a gap throws, and the chunk rolls back).
    private static func insertMovements(_ movements: [Movement], publish: Bool, db: Database) throws -> [Int64] {
        let insert = try db.makeStatement(sql: insertMovementsSQL(rows: 1))
        let event = try db.makeStatement(sql: "INSERT INTO outbox (movement_seq) VALUES (?)")
        var sequences: [Int64] = []
        sequences.reserveCapacity(movements.count)
        var next = 0
        if !publish && movements.count >= movementsPerInsert {
            let many = try db.makeStatement(sql: insertMovementsSQL(rows: movementsPerInsert))
            let statement = many.sqliteStatement
            var previousLast: Int64?
            while movements.count - next >= movementsPerInsert {
                sqlite3_reset(statement)
                for row in 0..<movementsPerInsert { bindMovement(movements[next + row], statement, firstParameter: Int32(row * 12 + 1)) }
                try step(statement, db: db)
                let last = db.lastInsertedRowID
                let first = last - Int64(movementsPerInsert) + 1
                guard sqlite3_changes(db.sqliteConnection) == Int32(movementsPerInsert), previousLast.map({ $0 + 1 == first }) ?? true else {
                    throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the bulk load's ledger rows did not get consecutive sequences")
                }
                previousLast = last
                sequences.append(contentsOf: first...last)
                next += movementsPerInsert
            }
            sqlite3_reset(statement)
        }
        let row = insert.sqliteStatement
        for m in movements[next...] {
            sqlite3_reset(row)
            bindMovement(m, row, firstParameter: 1)
            try step(row, db: db)
            let sequence = db.lastInsertedRowID
            if publish { try event.execute(arguments: [sequence]) }
            sequences.append(sequence)
        }
        sqlite3_reset(row)
        return sequences
    }

    /// Binds one movement's twelve columns (`insertMovementsSQL`'s order) from parameter `first` on.
    private static func bindMovement(_ m: Movement, _ statement: OpaquePointer?, firstParameter first: Int32) {
        bind(statement, first, m.movementID)
        bind(statement, first + 1, m.storeID)
        bind(statement, first + 2, m.productID)
        sqlite3_bind_int64(statement, first + 3, m.delta)
        sqlite3_bind_int64(statement, first + 4, m.quantityBefore)
        sqlite3_bind_int64(statement, first + 5, m.quantityAfter)
        sqlite3_bind_int64(statement, first + 6, m.version)
        bind(statement, first + 7, m.reason.rawValue)
        if let reference = m.reference { bind(statement, first + 8, reference) } else { sqlite3_bind_null(statement, first + 8) }
        bind(statement, first + 9, m.actor)
        sqlite3_bind_int64(statement, first + 10, m.atMillis)
        sqlite3_bind_int64(statement, first + 11, m.recordedAtMillis)
    }

    /// Sets each stock row to the level given (inserted or replaced).
    private static func writeLevels(_ levels: [StockRow], db: Database) throws {
        let level = try db.makeStatement(sql: """
            INSERT INTO stock_levels (store_id, product_id, quantity, version, updated_at_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = excluded.quantity, version = excluded.version,
                updated_at_ms = excluded.updated_at_ms
            """)
        for stock in levels {
            let row = level.sqliteStatement
            sqlite3_reset(row)
            bind(row, 1, stock.storeID)
            bind(row, 2, stock.productID)
            sqlite3_bind_int64(row, 3, stock.level.quantity)
            sqlite3_bind_int64(row, 4, stock.level.version)
            sqlite3_bind_int64(row, 5, stock.level.updatedAtMillis)
            try step(row, db: db)
        }
        sqlite3_reset(level.sqliteStatement)
    }

    /// Writes daily demand rows with `sql` (`upsertDemand`, where a row already there merges, as `recordDemand`
    /// does; or the staged insert), bound through SQLite's calls.
    private static func writeDemand(_ rows: [DemandDay], sql: String, db: Database, nowMillis: Int64) throws {
        let demand = try db.makeStatement(sql: sql)
        let row = demand.sqliteStatement
        for day in rows {
            sqlite3_reset(row)
            bind(row, 1, day.storeID)
            bind(row, 2, day.productID)
            sqlite3_bind_int64(row, 3, day.day)
            sqlite3_bind_int64(row, 4, day.sold)
            sqlite3_bind_int64(row, 5, day.returned)
            sqlite3_bind_int64(row, 6, day.inStock ? 1 : 0)
            sqlite3_bind_int64(row, 7, day.closing)
            sqlite3_bind_int64(row, 8, nowMillis)
            try step(row, db: db)
        }
        sqlite3_reset(row)
    }

    /// Runs a statement bound through SQLite's calls that returns no rows.
    private static func step(_ statement: OpaquePointer?, db: Database) throws {
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    /// Binds a text parameter (copied by SQLite: `SQLITE_TRANSIENT`).
    private static func bind(_ statement: OpaquePointer?, _ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) { chars in
                sqlite3_bind_text(statement, index, chars.baseAddress, Int32(chars.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
        }
    }

    /// Sets the ledger's read indexes aside (`SQLiteLedgerIndexes`): the load's rows go into the table alone. Only
    /// when no other store has the database open (`SQLiteOpeners`): a server running beside the load would serve the
    /// ledger without them, and, were the load killed, until it restarts. Then the load keeps them, more slowly.
    ///
    /// Alone, it also stages the demand rows (`SQLiteStagedDemand`) and loads with a rollback journal instead of the
    /// write-ahead log: nearly all a load writes is new pages at the file's end (the ledger, the staged rows, the
    /// indexes at the finish), which a rollback journal writes once and the log twice (into the log, then by the
    /// checkpoint into the file). A load killed mid-chunk leaves a hot journal, which the next opener rolls back, as
    /// the log would have lost the chunk; `finishBulkLoad` (or the next open of a `DatabasePool`) goes back to the log.
    /// Stores in other processes refuse to open the file meanwhile (`SQLiteFileBeingLoaded`); another program's
    /// connection (the `sqlite3` shell) open at the start keeps the load on the log, and one that reads for longer than
    /// the busy timeout while the load is on the journal fails the load's chunk (README, `bazaar demo`).
    public func beginBulkLoad() async throws {
        guard openers.takeAlone() else { return }
        pool.releaseMemory()  // closes the idle readers: leaving the log takes the only connection to the file
        try await pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try SQLiteLedgerIndexes.drop(db)
                try db.execute(sql: SQLiteStagedDemand.create)
                return .commit
            }
            do {
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                // Another connection has the file open (refused at once, without the busy timeout): keep the log.
            }
        }
    }

    /// Merges the staged demand rows and builds the read indexes again (one sort each, in the load's large page cache),
    /// then goes back to the write-ahead log, empty (or, for a load that kept the log, folds it into the database file
    /// and empties it): the first start after a load neither replays nor carries gigabytes of log.
    public func finishBulkLoad() async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = -262144")
            try db.inTransaction(.immediate) {
                try SQLiteStagedDemand.fold(db)
                try SQLiteLedgerIndexes.create(db)
                return .commit
            }
            try Self.returnToTheLog(db)
            try db.execute(sql: "PRAGMA cache_size = -262144")  // the writer's own (`init`)
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        openers.share()  // others may open the database beside this store again
    }

    /// Back to the write-ahead log after a load on the rollback journal (nothing when it kept the log). SQLite refuses
    /// the switch at once, without the busy timeout, while another connection reads: asked again for up to 10 s, then
    /// left to the next open of a `DatabasePool`, which makes the same switch (the load's rows are committed either way).
    private static func returnToTheLog(_ db: Database) throws {
        for attempt in 1...100 {
            do {
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                return
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                if attempt == 100 { return }
                usleep(100_000)  // on GRDB's writer queue, not a thread of the Swift concurrency pool
            }
        }
    }
}

extension SQLiteStockStore {
    /// The plan SQLite makes for an audit query (`EXPLAIN QUERY PLAN`'s lines), with a time window as the sequence
    /// range it becomes: how `AuditPlanTests` holds every filter set to an index without a sort.
    public func explainAuditLog(_ query: AuditQuery) async throws -> [String] {
        let sequences: ClosedRange<Int64>? = query.ledgerDays == nil ? nil : 1...Int64.max
        let sql = "EXPLAIN QUERY PLAN " + Self.auditSQL(query, sequences: sequences)
        let arguments = Self.arguments(query.parameters(sequences: sequences))
        return try await pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map { $0["detail"] as String } }
    }
}
