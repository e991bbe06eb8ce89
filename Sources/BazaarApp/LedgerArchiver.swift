public import BazaarCore
import BazaarDomain
import Foundation
import Glibc

/// `bazaar archive --before DATE --output DIR`: moves the ledger's rows recorded before a cut-off into gzip'd JSON
/// Lines files, one per month, and keeps each store x product's balance at the cut-off as a checkpoint.
///
/// A run, in an order that survives a kill at any moment:
/// 1. the rows (a prefix of the ledger by sequence, see `LedgerArchiveStore`) are written to
///    `DIR/ledger-<first>-<last>/ledger-YYYY-MM.jsonl.gz` and `manifest.json`, each synced and renamed into place;
/// 2. the run and its files are recorded in the database;
/// 3. bounded batches each add their rows to the checkpoints and delete them in one transaction (writers wait
///    for one batch at most, never for the run).
/// Killed during 1: nothing was recorded or deleted; the next run writes the files again. Killed during 3: the
/// recorded run is unfinished; the next run checks its files (SHA-256) and resumes the batches. A finished run
/// makes the same command a no-op.
public struct LedgerArchiver: Sendable {
    let store: any LedgerArchiveStore
    let clock: WallClock
    /// The newest cut-off allowed is `now - safetyWindowMillis` (see `safetyWindowMillis(...)`).
    let safetyWindowMillis: Int64
    /// Rows deleted per transaction.
    public var batchRows: Int
    /// Rows read per page of the export.
    public var readRows = 10_000
    /// Called after each step (tests stop a run there, as a crash would).
    public var afterStep: @Sendable (Step) throws -> Void = { _ in }

    public enum Step: Sendable, Equatable {
        case filesWritten
        case recorded
        case batch(deletedThrough: Int64)
    }

    public init(store: any LedgerArchiveStore, clock: WallClock = .system, safetyWindowMillis: Int64, batchRows: Int = 5_000) {
        self.store = store
        self.clock = clock
        self.safetyWindowMillis = safetyWindowMillis
        self.batchRows = max(1, batchRows)
    }

    /// How recent a cut-off may be: a retried request is answered from its movements in the ledger for as long as
    /// its idempotency record is kept (48 hours for HTTP keys; Kafka command ids for the replay window plus an
    /// hour, `MaintenanceService`), so rows younger than the longest of these must stay.
    public static func safetyWindowMillis(commandReplayWindowHours: Double) -> Int64 {
        let hours = max(48, max(168, commandReplayWindowHours) + 1)
        return Int64(hours * 3_600_000)
    }

    /// What a run did.
    public struct Report: Sendable {
        /// Runs carried out (or finished, for one a crash had interrupted), oldest first.
        public var archives: [LedgerArchive] = []
        /// A run found unfinished and completed first.
        public var resumed: LedgerArchive?
        /// The sequence through which the ledger is archived now.
        public var archivedThroughSequence: Int64 = 0

        /// One sentence for the command line.
        public var summary: String {
            var parts: [String] = []
            if let resumed {
                parts.append("Finished the interrupted archive run in \(resumed.directory) (\(resumed.rows) rows).")
            }
            for archive in archives where archive.firstSequence != resumed?.firstSequence {
                let files = archive.files.map { ($0.file as NSString).lastPathComponent }.joined(separator: ", ")
                parts.append("Archived \(archive.rows) ledger rows recorded before \(RFC3339.format(millis: archive.cutoffMillis)) "
                    + "to \(archive.directory) (\(files); manifest.json), recorded each store x product's balance at the cut-off, "
                    + "and removed them from the ledger.")
            }
            if parts.isEmpty {
                parts.append(archivedThroughSequence > 0
                    ? "Nothing to archive: every ledger row recorded before the cut-off is archived already (through sequence \(archivedThroughSequence))."
                    : "Nothing to archive: no ledger row was recorded before the cut-off.")
            }
            return parts.joined(separator: " ")
        }
    }

    /// Archives the rows recorded before `cutoffMillis` into `outputDirectory` (created if needed).
    public func run(before cutoffMillis: Int64, outputDirectory: String) async throws -> Report {
        let now = clock.nowMillis()
        if cutoffMillis > now {
            throw ArchiveRefusal("the cut-off \(RFC3339.format(millis: cutoffMillis)) is in the future; give a date in the past, such as \(Self.date(now - safetyWindowMillis))")
        }
        let latest = now - safetyWindowMillis
        if cutoffMillis > latest {
            throw ArchiveRefusal("""
                the cut-off \(RFC3339.format(millis: cutoffMillis)) is inside the idempotency window: a retried request or Kafka \
                command is answered from its ledger rows for \(safetyWindowMillis / 3_600_000) hours, so rows recorded after \
                \(RFC3339.format(millis: latest)) must stay; give --before \(Self.date(latest)) or earlier
                """)
        }
        // One run at a time in a folder: a second run would rename its files (short, if the first is deleting)
        // over the first run's recorded ones. Held until this function returns (the descriptor's close releases it).
        let lock = try Self.lockFolder(outputDirectory)
        defer { close(lock) }
        var report = Report()
        var bounds = try await store.archiveBounds(cutoffMillis: cutoffMillis)
        if let unfinished = bounds.unfinished {
            try verify(unfinished)
            let finished = try await deleteInBatches(unfinished)
            Self.removeLeftovers(in: finished.directory)
            report.resumed = finished
            report.archives.append(finished)
            bounds = try await store.archiveBounds(cutoffMillis: cutoffMillis)
        }
        report.archivedThroughSequence = bounds.archivedThroughSequence
        guard bounds.lastSequence > bounds.archivedThroughSequence else { return report }
        if let unpublished = bounds.oldestUnpublishedSequence, unpublished <= bounds.lastSequence {
            throw ArchiveRefusal("""
                movements recorded before the cut-off are still in the outbox, not yet published to the event stream \
                (their rows render their events); run `bazaar serve` with the event stream reachable until the outbox \
                drains (bazaar_outbox_depth 0), or give an earlier --before
                """)
        }
        let directory = try Self.runDirectory(outputDirectory, first: bounds.archivedThroughSequence + 1, last: bounds.lastSequence)
        var archive = try await export(after: bounds.archivedThroughSequence, through: bounds.lastSequence, cutoffMillis: cutoffMillis,
                                       directory: directory)
        try afterStep(.filesWritten)
        try await store.recordArchive(archive)
        try afterStep(.recorded)
        archive = try await deleteInBatches(archive)
        Self.removeLeftovers(in: archive.directory)
        report.archives.append(archive)
        report.archivedThroughSequence = archive.lastSequence
        return report
    }

    // MARK: Removal

    /// A recorded run's files must still be there, whole, before more of its rows are deleted.
    func verify(_ archive: LedgerArchive) throws {
        for file in archive.files {
            guard let sha256 = Gzip.sha256(ofFile: file.file) else {
                throw ArchiveRefusal("the archive run \(archive.directory) was interrupted and its file \(file.file) is missing; restore it (its rows are partly deleted from the ledger) before running archive again")
            }
            guard sha256 == file.sha256 else {
                throw ArchiveRefusal("the archive run \(archive.directory) was interrupted and its file \(file.file) has changed (SHA-256 differs from the one recorded); restore the original before running archive again")
            }
        }
    }

    /// Batches until the run is complete; a batch that fails for an unavailable database is tried again (it is one
    /// transaction: it either happened or not).
    func deleteInBatches(_ archive: LedgerArchive) async throws -> LedgerArchive {
        var run = archive
        var failures = 0
        while !run.isComplete {
            do {
                run = try await store.archiveBatch(firstSequence: run.firstSequence, maxRows: batchRows, atMillis: clock.nowMillis())
                failures = 0
            } catch let error as StorageUnavailable {
                failures += 1
                if failures > 10 { throw error }
                try await Task.sleep(for: .milliseconds(100 * failures))
                continue
            }
            try afterStep(.batch(deletedThrough: run.deletedThroughSequence))
        }
        return run
    }

    static func date(_ millis: Int64) -> String { String(RFC3339.format(millis: millis).prefix(10)) }
}

/// A cut-off or output the archive refuses, worded for the command line.
public struct ArchiveRefusal: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension LedgerArchiver {
    /// `bazaar archive`: the configured database (migrated first: the checkpoint tables), the cut-off parsed, a run.
    public static func run(configuration: BazaarConfiguration, before: String, output: String, batchRows: Int) async throws -> Report {
        guard let cutoff = RFC3339.parse(before) else {
            throw ArchiveRefusal("--before must be a date such as 2026-01-01 (midnight UTC) or an RFC 3339 time such as 2026-01-01T00:00:00Z (got \(before))")
        }
        guard batchRows >= 1, batchRows <= 100_000 else {
            throw ArchiveRefusal("--batch-rows must be between 1 and 100000 (got \(batchRows))")
        }
        let store = try await BazaarSystem.openStore(configuration, clock: .system)
        do {
            try await store.migrate()
            guard let archiveStore = store as? any LedgerArchiveStore else {
                throw ArchiveRefusal("this storage engine cannot archive its ledger")
            }
            let archiver = LedgerArchiver(
                store: archiveStore,
                safetyWindowMillis: safetyWindowMillis(commandReplayWindowHours: configuration.kafkaCommandReplayWindowHours),
                batchRows: batchRows)
            let report = try await archiver.run(before: cutoff, outputDirectory: output)
            try await store.close()
            return report
        } catch {
            try? await store.close()
            throw error
        }
    }
}
