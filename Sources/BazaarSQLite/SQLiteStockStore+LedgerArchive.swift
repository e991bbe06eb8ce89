public import BazaarCore
public import BazaarDomain
import GRDB

// MARK: - Ledger retention (`bazaar archive`): bounds, export reads, runs and their bounded batches.

extension SQLiteStockStore: LedgerArchiveStore {
    public func archiveBounds(cutoffMillis: Int64) async throws -> ArchiveBounds {
        try await pool.read { db in
            let archives = try Self.archives(db)
            let archivedThrough = archives.last?.lastSequence ?? 0
            // The prefix recorded before the cut-off: a walk of the primary key from the last archived row to the
            // first row recorded at or after the cut-off (the rows walked are the ones the run exports anyway).
            let firstAfter = try Int64.fetchOne(db, sql: """
                SELECT seq FROM stock_movements WHERE seq > ? AND recorded_at_ms >= ? ORDER BY seq LIMIT 1
                """, arguments: [archivedThrough, cutoffMillis])
            let last = try firstAfter.map { $0 - 1 }
                ?? Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM stock_movements") ?? 0
            let oldestUnpublished = try Int64.fetchOne(db, sql: "SELECT MIN(movement_seq) FROM outbox")
            return ArchiveBounds(archivedThroughSequence: archivedThrough, lastSequence: max(last, archivedThrough),
                                 oldestUnpublishedSequence: oldestUnpublished, unfinished: archives.first { !$0.isComplete })
        }
    }

    public func movements(afterSequence: Int64, throughSequence: Int64, limit: Int) async throws -> [Movement] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.movementColumns) FROM stock_movements WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?
                """, arguments: [afterSequence, throughSequence, limit]).map(Self.movement(from:))
        }
    }

    public func recordArchive(_ archive: LedgerArchive) async throws {
        try await pool.write { db in
            // A run resumes through `archiveBounds().unfinished`, never by recording again: a row here is another run's.
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM ledger_archives WHERE first_seq = ?", arguments: [archive.firstSequence]) ?? false {
                throw ArchiveRunConflict(firstSequence: archive.firstSequence)
            }
            try db.execute(sql: """
                INSERT INTO ledger_archives (first_seq, last_seq, cutoff_ms, directory, row_count, deleted_through_seq, created_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [archive.firstSequence, archive.lastSequence, archive.cutoffMillis, archive.directory, archive.rows,
                                 archive.firstSequence - 1, archive.createdAtMillis])
            // A replay answers from its movements' rows: the records of the rows about to go (made in their
            // transaction, at their recorded time, so before the cut-off) go first. They are past their retention
            // (the cut-off is older than the idempotency window); `MaintenanceService` may not have purged them yet.
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE created_at_ms < ?", arguments: [archive.cutoffMillis])
            for file in archive.files {
                try db.execute(sql: """
                    INSERT INTO ledger_archive_files (archive_first_seq, period, file, row_count, first_seq, last_seq, earliest_at_ms,
                        latest_at_ms, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [archive.firstSequence, file.period, file.file, file.rows, file.firstSequence, file.lastSequence,
                                     file.earliestAtMillis, file.latestAtMillis, file.sha256])
            }
        }
    }

    public func archives() async throws -> [LedgerArchive] {
        try await pool.read { db in try Self.archives(db) }
    }

    public func archiveBatch(firstSequence: Int64, maxRows: Int, atMillis: Int64) async throws -> LedgerArchive {
        // One write transaction per batch: the single writer is held for `maxRows` rows, then writers go on.
        try await pool.write { db in
            guard let run = try Self.archives(db).first(where: { $0.firstSequence == firstSequence }) else {
                throw DatabaseError(resultCode: .SQLITE_NOTFOUND, message: "no archive run starts at sequence \(firstSequence)")
            }
            guard !run.isComplete else { return run }
            let from = run.deletedThroughSequence
            // The batch's last sequence: the maxRows-th row after the progress, or the run's end.
            let through = try Int64.fetchOne(db, sql: """
                SELECT seq FROM stock_movements WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1 OFFSET ?
                """, arguments: [from, run.lastSequence, maxRows - 1]) ?? run.lastSequence
            // `WHERE true`: SQLite's upsert after a SELECT needs it to parse ON CONFLICT.
            try db.execute(sql: """
                INSERT INTO ledger_checkpoints (store_id, product_id, quantity, row_count, through_seq)
                SELECT store_id, product_id, SUM(delta), COUNT(*), MAX(seq) FROM stock_movements WHERE seq > ? AND seq <= ? AND true
                GROUP BY store_id, product_id
                ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = quantity + excluded.quantity, row_count = row_count + excluded.row_count,
                    through_seq = excluded.through_seq
                """, arguments: [from, through])
            try db.execute(sql: "DELETE FROM stock_movements WHERE seq > ? AND seq <= ?", arguments: [from, through])
            try db.execute(sql: """
                UPDATE ledger_archives SET deleted_through_seq = ?, completed_at_ms = CASE WHEN ? >= last_seq THEN ? END WHERE first_seq = ?
                """, arguments: [through, through, atMillis, firstSequence])
            return try Self.archives(db).first { $0.firstSequence == firstSequence }!
        }
    }

    public func checkpoint(storeID: String, productID: String) async throws -> LedgerCheckpoint? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT quantity, row_count, through_seq FROM ledger_checkpoints WHERE store_id = ? AND product_id = ?",
                             arguments: [storeID, productID]).map { LedgerCheckpoint(quantity: $0[0], rows: $0[1], throughSequence: $0[2]) }
        }
    }

    static func archives(_ db: Database) throws -> [LedgerArchive] {
        var runs = try Row.fetchAll(db, sql: """
            SELECT first_seq, last_seq, cutoff_ms, directory, row_count, deleted_through_seq, created_at_ms, completed_at_ms
            FROM ledger_archives ORDER BY first_seq
            """).map { row in
            LedgerArchive(firstSequence: row[0], lastSequence: row[1], cutoffMillis: row[2], directory: row[3], rows: row[4],
                          deletedThroughSequence: row[5], createdAtMillis: row[6], completedAtMillis: row[7], files: [])
        }
        guard !runs.isEmpty else { return runs }
        let files = try Row.fetchAll(db, sql: """
            SELECT archive_first_seq, period, file, row_count, first_seq, last_seq, earliest_at_ms, latest_at_ms, sha256
            FROM ledger_archive_files ORDER BY archive_first_seq, first_seq
            """)
        for row in files {
            let run: Int64 = row[0]
            guard let index = runs.firstIndex(where: { $0.firstSequence == run }) else { continue }
            runs[index].files.append(ArchivedPeriod(period: row[1], file: row[2], rows: row[3], firstSequence: row[4], lastSequence: row[5],
                                                    earliestAtMillis: row[6], latestAtMillis: row[7], sha256: row[8]))
        }
        return runs
    }
}
