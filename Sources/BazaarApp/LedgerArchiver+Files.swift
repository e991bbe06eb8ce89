import BazaarCore
import BazaarDomain
import Foundation
import Glibc

/// The archive's files: the run's folder and its lock, one gzip'd JSON Lines file per month and `manifest.json`,
/// each written as `<name>.partial-<pid>`, synced and renamed into place (a killed run leaves only partial files,
/// which the next run writes again and a finished run removes).
extension LedgerArchiver {
    /// Writes the rows of `(after, through]` to one file per month and the manifest; nothing in the database changes.
    func export(after: Int64, through: Int64, cutoffMillis: Int64, directory: String) async throws -> LedgerArchive {
        struct Open {
            var writer: GzipFileWriter
            var period: ArchivedPeriod
        }
        var open: [String: Open] = [:]
        var cursor = after
        var rows: Int64 = 0
        while true {
            let page = try await store.movements(afterSequence: cursor, throughSequence: through, limit: readRows)
            for movement in page {
                let period = String(RFC3339.format(millis: movement.recordedAtMillis).prefix(7))
                if open[period] == nil {
                    let path = directory + "/ledger-\(period).jsonl.gz"
                    open[period] = Open(writer: try GzipFileWriter(path: path), period: ArchivedPeriod(
                        period: period, file: path, rows: 0, firstSequence: movement.sequence, lastSequence: movement.sequence,
                        earliestAtMillis: movement.atMillis, latestAtMillis: movement.atMillis, sha256: ""))
                }
                try open[period]!.writer.write(Self.line(movement))
                open[period]!.period.rows += 1
                open[period]!.period.lastSequence = movement.sequence
                open[period]!.period.earliestAtMillis = min(open[period]!.period.earliestAtMillis, movement.atMillis)
                open[period]!.period.latestAtMillis = max(open[period]!.period.latestAtMillis, movement.atMillis)
            }
            rows += Int64(page.count)
            guard let last = page.last, page.count == readRows else { break }
            cursor = last.sequence
        }
        var files: [ArchivedPeriod] = []
        var sizes: [String: Int64] = [:]
        for period in open.keys.sorted() {
            var file = open[period]!
            let (sha256, bytes) = try file.writer.finish()
            file.period.sha256 = sha256
            sizes[period] = bytes
            files.append(file.period)
        }
        let archive = LedgerArchive(firstSequence: after + 1, lastSequence: through, cutoffMillis: cutoffMillis, directory: directory,
                                    rows: rows, deletedThroughSequence: after, createdAtMillis: clock.nowMillis(), completedAtMillis: nil,
                                    files: files)
        try Self.writeManifest(archive, sizes: sizes)
        return archive
    }

    /// One line of a file: the audit item of `/audit-logs` with its ledger `sequence` first.
    static func line(_ movement: Movement) -> String {
        "{\"sequence\":\(movement.sequence)," + movement.auditJSON.dropFirst() + "\n"
    }

    static func writeManifest(_ archive: LedgerArchive, sizes: [String: Int64]) throws {
        let files = archive.files.map { file in
            """
            {"name":\(JSON.quoted((file.file as NSString).lastPathComponent)),"period":\(JSON.quoted(file.period)),"rows":\(file.rows),\
            "first_sequence":\(file.firstSequence),"last_sequence":\(file.lastSequence),\
            "earliest_at":"\(RFC3339.format(millis: file.earliestAtMillis))","latest_at":"\(RFC3339.format(millis: file.latestAtMillis))",\
            "bytes":\(sizes[file.period] ?? 0),"sha256":\(JSON.quoted(file.sha256))}
            """
        }
        let manifest = """
            {"format":"bazaar-ledger-archive","format_version":1,"cutoff":"\(RFC3339.format(millis: archive.cutoffMillis))",\
            "first_sequence":\(archive.firstSequence),"last_sequence":\(archive.lastSequence),"rows":\(archive.rows),\
            "created_at":"\(RFC3339.format(millis: archive.createdAtMillis))","compression":"gzip","encoding":"json-lines",\
            "files":[\(files.joined(separator: ","))]}

            """
        let path = archive.directory + "/manifest.json"
        let partial = GzipFileWriter.partialPath(path)
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ArchiveFileError("cannot create \(partial): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(manifest.utf8)
        guard Glibc.write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw ArchiveFileError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        guard rename(partial, path) == 0 else { throw ArchiveFileError("cannot rename \(partial): \(String(cString: strerror(errno)))") }
        try GzipFileWriter.syncFolder(of: path)
    }

    /// `DIR/.bazaar-archive.lock`, locked for this process (`flock`, released when the descriptor closes or the
    /// process dies, so a killed run never leaves it held); a refusal when another run holds it.
    public static func lockFolder(_ output: String) throws -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw ArchiveRefusal("cannot create the folder \(output) (\(error.localizedDescription)); give an --output folder you can write to")
        }
        let path = (output as NSString).appendingPathComponent(".bazaar-archive.lock")
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ArchiveRefusal("cannot write \(path) (\(String(cString: strerror(errno)))); give an --output folder you can write to")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw ArchiveRefusal("another `bazaar archive` is running in \(output); wait for it to finish (one run at a time)")
        }
        return descriptor
    }

    /// `DIR/ledger-<first>-<last>`, created (with DIR) if needed, as an absolute path.
    static func runDirectory(_ output: String, first: Int64, last: Int64) throws -> String {
        let base = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
        let directory = (base as NSString).standardizingPath + "/ledger-\(first)-\(last)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ArchiveRefusal("cannot create the folder \(directory) (\(error.localizedDescription)); give an --output folder you can write to")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw ArchiveRefusal("the folder \(directory) is not writable; give an --output folder you can write to")
        }
        try GzipFileWriter.syncFolder(of: directory)
        return directory
    }

    /// Files a killed run left half-written (`.partial-<pid>`), once the run they belong to is complete.
    static func removeLeftovers(in directory: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.contains(".partial-") {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }
}
