public import BazaarDomain

/// Ledger retention (`bazaar archive`): what a storage engine does for an archive run.
///
/// The ledger is archived as a *prefix by sequence* (commit order): every row with a sequence at or below a bound,
/// never a row above it, so cursors (`/audit-logs`, `/v1/changes`, the outbox) keep their meaning. What leaves the
/// ledger is kept per store x product as a *checkpoint*: the sum of the archived deltas (the balance at the
/// cut-off) and their number, and invariant 1 reads "quantity = checkpoint + the deltas after it, version =
/// checkpoint rows + the rows after it" (`StockStore.ledgerTotals` answers both parts added).
///
/// A run: the files are written and synced first (`LedgerArchiver`), then `recordArchive` (the run and its files),
/// then `archiveBatch` until it reports the run complete. Each batch records the checkpoints of its rows and
/// deletes them in one transaction, so a crash at any moment leaves every row either in the ledger or counted in
/// its pair's checkpoint, and the next run resumes where the recorded progress stopped.
public protocol LedgerArchiveStore: Sendable {
    /// Where a run with this cut-off would start and stop, and what makes a cut-off unsafe. Read on the primary.
    func archiveBounds(cutoffMillis: Int64) async throws -> ArchiveBounds
    /// Ledger rows with `afterSequence < seq <= throughSequence`, oldest first, at most `limit`. On the primary.
    func movements(afterSequence: Int64, throughSequence: Int64, limit: Int) async throws -> [Movement]
    /// Records a run whose files are written and synced (no ledger row is deleted yet), and forgets the idempotency
    /// records made before its cut-off (a replay answers from its movements' rows); recording the same run again
    /// (same first sequence) changes nothing.
    func recordArchive(_ archive: LedgerArchive) async throws
    /// Every recorded run, oldest first, with its files. Read where the audit trail is read.
    func archives() async throws -> [LedgerArchive]
    /// One bounded step of a recorded run: up to `maxRows` of its rows not yet deleted are added to their pairs'
    /// checkpoints and deleted, and the run's progress moved on, in one transaction. Returns the run as it stands
    /// (complete once `deletedThroughSequence == lastSequence`).
    func archiveBatch(firstSequence: Int64, maxRows: Int, atMillis: Int64) async throws -> LedgerArchive
    /// The checkpoint of one store x product (nil: none of its rows was ever archived). On the primary.
    func checkpoint(storeID: String, productID: String) async throws -> LedgerCheckpoint?
}

/// The balance of one store x product at the last archive cut-off that reached it.
public struct LedgerCheckpoint: Sendable, Equatable {
    /// The sum of the archived deltas.
    public var quantity: Int64
    /// How many rows were archived.
    public var rows: Int64
    /// The highest archived sequence counted in it (the pair's rows above it are in the ledger).
    public var throughSequence: Int64

    public init(quantity: Int64, rows: Int64, throughSequence: Int64) {
        self.quantity = quantity
        self.rows = rows
        self.throughSequence = throughSequence
    }
}

/// What the ledger holds around a cut-off.
public struct ArchiveBounds: Sendable, Equatable {
    /// The last sequence earlier runs archived (0 for none): a new run starts after it.
    public var archivedThroughSequence: Int64
    /// The highest sequence of the prefix recorded before the cut-off: every row at or below it was recorded
    /// before the cut-off (and the first row after it was not). Equal to `archivedThroughSequence`: nothing to do.
    public var lastSequence: Int64
    /// The oldest movement still waiting in the outbox (nil: none). Its row renders its event: it must stay.
    public var oldestUnpublishedSequence: Int64?
    /// A recorded run not finished yet (a crash or a kill stopped it): resumed before anything else.
    public var unfinished: LedgerArchive?

    public init(archivedThroughSequence: Int64, lastSequence: Int64, oldestUnpublishedSequence: Int64?, unfinished: LedgerArchive?) {
        self.archivedThroughSequence = archivedThroughSequence
        self.lastSequence = lastSequence
        self.oldestUnpublishedSequence = oldestUnpublishedSequence
        self.unfinished = unfinished
    }
}

/// One archive run: a range of the ledger, written to files, then removed from the ledger.
public struct LedgerArchive: Sendable, Equatable {
    public var firstSequence: Int64
    public var lastSequence: Int64
    /// The `--before` cut-off (on the time each row was recorded).
    public var cutoffMillis: Int64
    /// The folder holding the run's files and its `manifest.json`.
    public var directory: String
    public var rows: Int64
    /// Rows up to this sequence are gone from the ledger (counted in checkpoints); `firstSequence - 1` before any.
    public var deletedThroughSequence: Int64
    public var createdAtMillis: Int64
    public var completedAtMillis: Int64?
    public var files: [ArchivedPeriod]

    public init(firstSequence: Int64, lastSequence: Int64, cutoffMillis: Int64, directory: String, rows: Int64,
                deletedThroughSequence: Int64, createdAtMillis: Int64, completedAtMillis: Int64?, files: [ArchivedPeriod]) {
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.cutoffMillis = cutoffMillis
        self.directory = directory
        self.rows = rows
        self.deletedThroughSequence = deletedThroughSequence
        self.createdAtMillis = createdAtMillis
        self.completedAtMillis = completedAtMillis
        self.files = files
    }

    public var isComplete: Bool { deletedThroughSequence >= lastSequence }
}

/// One file of a run: the rows of one calendar month (UTC, by the time they were recorded).
public struct ArchivedPeriod: Sendable, Equatable {
    /// `2026-10`.
    public var period: String
    /// The file's path as written (the run's folder and its name).
    public var file: String
    public var rows: Int64
    public var firstSequence: Int64
    public var lastSequence: Int64
    /// The earliest and latest `at` (when the movements happened) in the file: what `/audit-logs`' time filters compare.
    public var earliestAtMillis: Int64
    public var latestAtMillis: Int64
    /// SHA-256 of the file's bytes (the compressed file), lowercase hex.
    public var sha256: String

    public init(period: String, file: String, rows: Int64, firstSequence: Int64, lastSequence: Int64,
                earliestAtMillis: Int64, latestAtMillis: Int64, sha256: String) {
        self.period = period
        self.file = file
        self.rows = rows
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.earliestAtMillis = earliestAtMillis
        self.latestAtMillis = latestAtMillis
        self.sha256 = sha256
    }

    /// The file's path under the archive's `--output` folder: `ledger-<first>-<last>/ledger-YYYY-MM.jsonl.gz` (the
    /// API names no path of the server's disks).
    public var relativeFile: String {
        file.split(separator: "/").suffix(2).joined(separator: "/")
    }

    /// `{"period","file","rows","earliest_at","latest_at","sha256"}`: how `/audit-logs` and `/v1/changes` name it.
    public var json: String {
        """
        {"period":\(JSON.quoted(period)),"file":\(JSON.quoted(relativeFile)),"rows":\(rows),\
        "earliest_at":"\(RFC3339.format(millis: earliestAtMillis))","latest_at":"\(RFC3339.format(millis: latestAtMillis))",\
        "sha256":\(JSON.quoted(sha256))}
        """
    }
}

/// Which archived periods a ledger query reaches: the periods whose rows it would have answered had they stayed.
public enum ArchivedPeriods {
    /// The files an `/audit-logs` query reaches: their time span (`at`) overlaps the query's window and they lie
    /// below its cursor. Store, product, actor and reason filters are not compared (a file holds every store): a
    /// named file may hold no row of the filtered pair.
    public static func reached(by query: AuditQuery, in archives: [LedgerArchive]) -> [ArchivedPeriod] {
        archives.flatMap(\.files).filter { file in
            (query.sinceMillis.map { file.latestAtMillis >= $0 } ?? true)
                && (query.untilMillis.map { file.earliestAtMillis < $0 } ?? true)
                && (query.beforeSequence.map { file.firstSequence < $0 } ?? true)
        }
    }

    /// The files a `/v1/changes` cursor has not passed yet (their rows are no longer in the feed).
    public static func reached(afterSequence: Int64, in archives: [LedgerArchive]) -> [ArchivedPeriod] {
        archives.flatMap(\.files).filter { $0.lastSequence > afterSequence }
    }

    /// `"archived":[...]`, to add to a page's object.
    public static func json(_ files: [ArchivedPeriod]) -> String {
        "[" + files.map(\.json).joined(separator: ",") + "]"
    }
}

/// Another archive run recorded the same rows first (two `bazaar archive` at once on one database): this run records
/// nothing and deletes nothing; its files are a spare copy. `recordArchive` throws it instead of adopting the other
/// run's record, whose files this run did not write.
public struct ArchiveRunConflict: Error, CustomStringConvertible, Sendable {
    public var firstSequence: Int64

    public init(firstSequence: Int64) { self.firstSequence = firstSequence }

    public var description: String {
        "another `bazaar archive` run recorded the ledger rows from sequence \(firstSequence) first; this run deleted nothing (its files are only a spare copy): run one archive at a time"
    }
}
