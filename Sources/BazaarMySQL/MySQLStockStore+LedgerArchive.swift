public import BazaarCore
public import BazaarDomain
import MySQLClient

// MARK: - Ledger retention (`bazaar archive`): bounds, export reads, runs and their bounded batches.
// Everything a run decides on is read on the primary; the runs' list (for `/audit-logs`) where the ledger is read.

extension MySQLStockStore: LedgerArchiveStore {
    public func archiveBounds(cutoffMillis: Int64) async throws -> ArchiveBounds {
        try await onPrimary { connection in
            let archives = try Self.archives(connection)
            let archivedThrough = archives.last?.lastSequence ?? 0
            // The prefix recorded before the cut-off: a walk of the primary key from the last archived row to the
            // first row recorded at or after it. Sequences are commit order (`ledger_clock`): a transaction still
            // in flight commits above every row read here.
            let firstAfter = try connection.select("""
                SELECT seq FROM stock_movements WHERE seq > ? AND recorded_at_ms >= ? ORDER BY seq LIMIT 1
                """, [archivedThrough, cutoffMillis]).first.map { try $0.int(0) }
            let last = try firstAfter.map { $0 - 1 } ?? connection.select("SELECT COALESCE(MAX(seq), 0) FROM stock_movements")[0].int(0)
            // Queued by this release (`outbox_ranges`) or by an older one (`outbox`), whichever is older.
            let oldestUnpublished = try ["SELECT MIN(movement_seq) FROM outbox", "SELECT MIN(seq) FROM outbox_ranges"]
                .compactMap { try connection.select($0)[0].optionalInt(0) }.min()
            return ArchiveBounds(archivedThroughSequence: archivedThrough, lastSequence: max(last, archivedThrough),
                                 oldestUnpublishedSequence: oldestUnpublished, unfinished: archives.first { !$0.isComplete })
        }
    }

    public func movements(afterSequence: Int64, throughSequence: Int64, limit: Int) async throws -> [Movement] {
        try await onPrimary { connection in
            try connection.select("""
                SELECT \(MySQLRows.movementColumns) FROM stock_movements WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?
                """, [afterSequence, throughSequence, limit]).map(MySQLRows.movement)
        }
    }

    public func recordArchive(_ archive: LedgerArchive) async throws {
        try await writeOnPrimary { connection in
            // A run resumes through `archiveBounds().unfinished`, never by recording again: a row here is another run's.
            guard try connection.select("SELECT 1 FROM ledger_archives WHERE first_seq = ? FOR UPDATE", [archive.firstSequence]).isEmpty else {
                throw ArchiveRunConflict(firstSequence: archive.firstSequence)
            }
            try connection.execute("""
                INSERT INTO ledger_archives (first_seq, last_seq, cutoff_ms, directory, row_count, deleted_through_seq, created_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [archive.firstSequence, archive.lastSequence, archive.cutoffMillis, archive.directory, archive.rows,
                      archive.firstSequence - 1, archive.createdAtMillis])
            // A replay answers from its movements' rows: the records of the rows about to go (made in their
            // transaction, at their recorded time, so before the cut-off) go first. They are past their retention
            // (the cut-off is older than the idempotency window); `MaintenanceService` may not have purged them yet.
            try connection.execute("DELETE FROM idempotency_keys WHERE created_at_ms < ?", [archive.cutoffMillis])
            for file in archive.files {
                try connection.execute("""
                    INSERT INTO ledger_archive_files (archive_first_seq, period, file, row_count, first_seq, last_seq, earliest_at_ms,
                        latest_at_ms, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [archive.firstSequence, file.period, file.file, file.rows, file.firstSequence, file.lastSequence,
                          file.earliestAtMillis, file.latestAtMillis, file.sha256])
            }
        }
    }

    public func archives() async throws -> [LedgerArchive] {
        try await onReplica { connection in try Self.archives(connection) }
    }

    public func archiveBatch(firstSequence: Int64, maxRows: Int, atMillis: Int64) async throws -> LedgerArchive {
        try await writeOnPrimary { connection in
            // The run's row locked first: two archivers of one database take turns, batch by batch.
            guard try !connection.select("SELECT 1 FROM ledger_archives WHERE first_seq = ? FOR UPDATE", [firstSequence]).isEmpty,
                  let run = try Self.archives(connection).first(where: { $0.firstSequence == firstSequence }) else {
                throw MySQLError(code: 9005, message: "no archive run starts at sequence \(firstSequence)")
            }
            guard !run.isComplete else { return run }
            let from = run.deletedThroughSequence
            let through = try connection.select("""
                SELECT seq FROM stock_movements WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1 OFFSET ?
                """, [from, run.lastSequence, maxRows - 1]).first.map { try $0.int(0) } ?? run.lastSequence
            // Old rows only: writers insert above every archived sequence and never wait on these row locks
            // (READ COMMITTED takes no gap locks), and nobody else writes checkpoints.
            try connection.execute("""
                INSERT INTO ledger_checkpoints (store_id, product_id, quantity, row_count, through_seq)
                SELECT store_id, product_id, CAST(SUM(delta) AS SIGNED), COUNT(*), MAX(seq) FROM stock_movements
                WHERE seq > ? AND seq <= ? GROUP BY store_id, product_id
                ON DUPLICATE KEY UPDATE quantity = quantity + VALUES(quantity), row_count = row_count + VALUES(row_count),
                    through_seq = VALUES(through_seq)
                """, [from, through])
            try connection.execute("DELETE FROM stock_movements WHERE seq > ? AND seq <= ?", [from, through])
            try connection.execute("""
                UPDATE ledger_archives SET deleted_through_seq = ?, completed_at_ms = IF(? >= last_seq, ?, NULL) WHERE first_seq = ?
                """, [through, through, atMillis, firstSequence])
            return try Self.archives(connection).first { $0.firstSequence == firstSequence }!
        }
    }

    public func checkpoint(storeID: String, productID: String) async throws -> LedgerCheckpoint? {
        try await onPrimary { connection in
            try connection.select("SELECT quantity, row_count, through_seq FROM ledger_checkpoints WHERE store_id = ? AND product_id = ?",
                                  [storeID, productID]).first.map {
                LedgerCheckpoint(quantity: try $0.int(0), rows: try $0.int(1), throughSequence: try $0.int(2))
            }
        }
    }

    static func archives(_ connection: MySQLConnection) throws -> [LedgerArchive] {
        var runs = try connection.select("""
            SELECT first_seq, last_seq, cutoff_ms, directory, row_count, deleted_through_seq, created_at_ms, completed_at_ms
            FROM ledger_archives ORDER BY first_seq
            """).map { row in
            LedgerArchive(firstSequence: try row.int(0), lastSequence: try row.int(1), cutoffMillis: try row.int(2),
                          directory: try row.string(3), rows: try row.int(4), deletedThroughSequence: try row.int(5),
                          createdAtMillis: try row.int(6), completedAtMillis: try row.optionalInt(7), files: [])
        }
        guard !runs.isEmpty else { return runs }
        for row in try connection.select("""
            SELECT archive_first_seq, period, file, row_count, first_seq, last_seq, earliest_at_ms, latest_at_ms, sha256
            FROM ledger_archive_files ORDER BY archive_first_seq, first_seq
            """) {
            let run = try row.int(0)
            guard let index = runs.firstIndex(where: { $0.firstSequence == run }) else { continue }
            runs[index].files.append(ArchivedPeriod(
                period: try row.string(1), file: try row.string(2), rows: try row.int(3), firstSequence: try row.int(4),
                lastSequence: try row.int(5), earliestAtMillis: try row.int(6), latestAtMillis: try row.int(7), sha256: try row.string(8)))
        }
        return runs
    }
}
