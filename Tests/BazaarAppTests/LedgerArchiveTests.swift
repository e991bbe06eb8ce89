import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import BazaarSQLite
import Foundation
import MySQLClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ledger retention (`bazaar archive`, issue 14), on every engine: the export read back by its documented schema,
/// invariant 1 as amended (level = checkpoint + ledger after it) through restarts, runs stopped at every step and
/// run again, writers writing during a run, and the refusals.
@Suite struct LedgerArchiveTests {
    static let day: Int64 = 86_400_000
    static let realNow = WallClock.system.nowMillis()
    /// The default window: 168 h of Kafka replay plus an hour.
    static let window = LedgerArchiver.safetyWindowMillis(commandReplayWindowHours: 168)

    /// A store whose writes are recorded at the time `clock` holds.
    static func open(_ db: borrowing TestDatabase, clock: ArchiveTestClock) async throws -> any StockStore & LedgerArchiveStore {
        let wall = WallClock { clock.now }
        let store: any StockStore & LedgerArchiveStore
        switch db.backend {
        case .sqlite: store = try SQLiteStockStore(path: String(db.url.dropFirst("sqlite://".count)), clock: wall)
        case .mariadb: store = MySQLStockStore(options: .init(primary: try MySQLConfiguration(url: db.url)), clock: wall)
        }
        try await store.migrate()
        return store
    }

    static func drainOutbox(_ store: any StockStore) async throws {
        while true {
            let batch = try await store.outboxBatch(limit: 1000)
            if batch.isEmpty { return }
            try await store.deleteOutbox(sequences: batch.map(\.sequence))
        }
    }

    /// Every pair's level equals its checkpoint plus its ledger, in quantity and in version.
    static func expectInvariant(_ store: any StockStore, pairs: [(String, String)], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for (s, p) in pairs {
            let level = try await store.level(storeID: s, productID: p)
            let totals = try await store.ledgerTotals(storeID: s, productID: p)
            #expect(level?.quantity ?? 0 == totals.sum && level?.version ?? 0 == totals.rows, "\(s)/\(p): \(String(describing: level)) vs \(totals)",
                    sourceLocation: sourceLocation)
        }
    }

    /// Old history (two months back and one month back) and recent movements; answers what was written old.
    static func writeHistory(_ store: any StockStore, clock: ArchiveTestClock, pairs: [(String, String)], perPair: Int) async throws -> [Movement] {
        var old: [Movement] = []
        for (index, at) in [realNow - 62 * day, realNow - 31 * day].enumerated() {
            clock.set(at)
            for (s, p) in pairs {
                for i in 0..<perPair {
                    let delta: Int64 = i % 3 == 2 ? -1 : Int64(2 + index)
                    let reason: MovementReason = delta < 0 ? .sale : .receipt
                    let command = try MovementCommand(storeID: s, productID: p, change: .delta(delta), reason: reason,
                                                      reference: "old-\(index)-\(i)", occurredAtMillis: at - 3_600_000)
                    old += try await store.apply(WriteRequest(commands: [command], actor: "archive test")).movements
                }
            }
        }
        clock.set(realNow)
        for (s, p) in pairs {
            _ = try await store.apply(WriteRequest(commands: [try command(s, p, delta: 5)], actor: "recent"))
        }
        return old
    }

    /// The run's files read back by the documented schema: the manifest, each file's SHA-256, and every line.
    static func readBack(_ archive: LedgerArchive) throws -> [[String: Any]] {
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: archive.directory + "/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        #expect(manifest["format"] as? String == "bazaar-ledger-archive" && manifest["format_version"] as? Int == 1)
        #expect((manifest["rows"] as? NSNumber)?.int64Value == archive.rows)
        #expect(manifest["cutoff"] as? String == RFC3339.format(millis: archive.cutoffMillis))
        let files = try #require(manifest["files"] as? [[String: Any]])
        var lines: [[String: Any]] = []
        for file in files {
            let name = try #require(file["name"] as? String)
            let data = try Data(contentsOf: URL(fileURLWithPath: archive.directory + "/" + name))
            #expect(Gzip.sha256(data) == file["sha256"] as? String, "\(name)")
            #expect((file["bytes"] as? NSNumber)?.intValue == data.count)
            let text = try #require(String(data: try Gzip.decompress(data), encoding: .utf8))
            let rows = text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            #expect(rows.count == (file["rows"] as? NSNumber)?.intValue, "\(name)")
            for row in rows {
                #expect((row["recorded_at"] as? String)?.hasPrefix(file["period"] as! String) == true, "a row in the file of its month")
            }
            lines += rows
        }
        return lines
    }

    static func expectSameRows(_ lines: [[String: Any]], _ movements: [Movement], sourceLocation: SourceLocation = #_sourceLocation) {
        let bySequence = Dictionary(uniqueKeysWithValues: lines.map { (($0["sequence"] as! NSNumber).int64Value, $0) })
        #expect(bySequence.count == movements.count, sourceLocation: sourceLocation)
        for m in movements {
            guard let line = bySequence[m.sequence] else {
                Issue.record("sequence \(m.sequence) missing from the archive", sourceLocation: sourceLocation)
                continue
            }
            let same = line["movement_id"] as? String == m.movementID && line["store_id"] as? String == m.storeID
                && line["product_id"] as? String == m.productID && (line["delta"] as? NSNumber)?.int64Value == m.delta
                && (line["quantity_before"] as? NSNumber)?.int64Value == m.quantityBefore
                && (line["quantity_after"] as? NSNumber)?.int64Value == m.quantityAfter
                && (line["version"] as? NSNumber)?.int64Value == m.version && line["reason"] as? String == m.reason.rawValue
                && line["reference"] as? String == m.reference && line["actor"] as? String == m.actor
                && line["at"] as? String == RFC3339.format(millis: m.atMillis)
                && line["recorded_at"] as? String == RFC3339.format(millis: m.recordedAtMillis)
            #expect(same, "\(line) vs \(m)", sourceLocation: sourceLocation)
        }
    }

    static let pairs = [("S1", "P1"), ("S1", "P2"), ("S2", "P1")]

    @Test(arguments: Backend.available)
    func anArchiveExportsTheOldRowsKeepsTheInvariantAndSurvivesARestart(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let clock = ArchiveTestClock(0)
        let output = db.folder.appendingPathComponent("archive").path
        var store = try await Self.open(db, clock: clock)
        let old = try await Self.writeHistory(store, clock: clock, pairs: Self.pairs, perPair: 7)
        let levelsBefore = try await Self.pairs.asyncMap { try await store.level(storeID: $0.0, productID: $0.1) }
        let archiver = LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 4)
        let cutoff = Self.realNow - 10 * Self.day

        // Undelivered events render from their rows: refused until the outbox is drained.
        await #expect { _ = try await archiver.run(before: cutoff, outputDirectory: output) } throws: { error in
            CommandLineErrors.sentence(for: error).contains("still in the outbox")
        }
        try await Self.drainOutbox(store)
        let report = try await archiver.run(before: cutoff, outputDirectory: output)
        let archive = try #require(report.archives.first)
        #expect(archive.rows == Int64(old.count) && archive.isComplete && archive.completedAtMillis != nil)
        let months = Set(old.map { String(RFC3339.format(millis: $0.recordedAtMillis).prefix(7)) })
        #expect(archive.files.map(\.period) == months.sorted() as [String])
        Self.expectSameRows(try Self.readBack(archive), old)
        #expect(report.summary.hasPrefix("Archived \(old.count) ledger rows recorded before"))

        // The ledger keeps only the recent rows; levels unchanged, and equal to checkpoint + ledger.
        let audit = try await store.auditLog(AuditQuery(limit: 1000))
        #expect(audit.count == Self.pairs.count && audit.allSatisfy { $0.actor == "recent" })
        for (index, (s, p)) in Self.pairs.enumerated() {
            #expect(try await store.level(storeID: s, productID: p) == levelsBefore[index])
            let checkpoint = try #require(try await store.checkpoint(storeID: s, productID: p))
            let mine = old.filter { $0.storeID == s && $0.productID == p }
            #expect(checkpoint.quantity == mine.reduce(0) { $0 + $1.delta } && checkpoint.rows == Int64(mine.count))
        }
        try await Self.expectInvariant(store, pairs: Self.pairs)

        // Restart: the same, and writes go on from the checkpoint.
        try await store.close()
        store = try await Self.open(db, clock: clock)
        try await Self.expectInvariant(store, pairs: Self.pairs)
        _ = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: -2, reason: .sale)], actor: "after"))
        _ = try await store.apply(WriteRequest(commands: [try command("S3", "P3", delta: 4)], actor: "after"))
        try await Self.expectInvariant(store, pairs: Self.pairs + [("S3", "P3")])
        #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == levelsBefore[0]!.quantity - 2)

        // The same command again: nothing to do. The runs are listed, named by the queries that reach them.
        let again = try await LedgerArchiver(store: store, safetyWindowMillis: Self.window).run(before: cutoff, outputDirectory: output)
        #expect(again.archives.isEmpty && again.summary.hasPrefix("Nothing to archive"))
        let runs = try await store.archives()
        #expect(runs.count == 1 && runs[0].files.count == months.count)
        #expect(ArchivedPeriods.reached(by: AuditQuery(), in: runs).count == months.count)
        #expect(ArchivedPeriods.reached(by: AuditQuery(sinceMillis: Self.realNow - 5 * Self.day), in: runs).isEmpty)
        #expect(ArchivedPeriods.reached(by: AuditQuery(untilMillis: Self.realNow - 40 * Self.day), in: runs).map(\.period)
            == [String(RFC3339.format(millis: Self.realNow - 62 * Self.day).prefix(7))])
        #expect(ArchivedPeriods.reached(afterSequence: 0, in: runs).count == months.count)
        #expect(ArchivedPeriods.reached(afterSequence: archive.lastSequence, in: runs).isEmpty)
        try await store.close()
    }

    /// A run stopped after every step (as a kill would: nothing after the step happens), then run again.
    @Test(arguments: Backend.available)
    func aRunStoppedAtAnyStepLeavesEveryRowInTheLedgerOrInItsCheckpointAndARerunFinishes(_ backend: Backend) async throws {
        struct Stop: Error {}
        let db = TestDatabase(backend)
        let clock = ArchiveTestClock(0)
        let output = db.folder.appendingPathComponent("archive").path
        let store = try await Self.open(db, clock: clock)
        let old = try await Self.writeHistory(store, clock: clock, pairs: Self.pairs, perPair: 5)
        try await Self.drainOutbox(store)
        let cutoff = Self.realNow - 10 * Self.day
        // Steps: files written, recorded, then each batch of 2 rows (30 rows: 15 batches). Stopped in turn after
        // the export, after recording, after 3 batches and after 5 more, on the same database: each later attempt
        // resumes what the previous one left.
        let stops: [(Int, String)] = [(0, "files written"), (1, "recorded"), (2, "three batches"), (4, "five more batches")]
        for (stopAt, what) in stops {
            var archiver = LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 2)
            let steps = Locked(0)
            archiver.afterStep = { (_: LedgerArchiver.Step) throws in
                let taken = steps.withLock { taken in
                    defer { taken += 1 }
                    return taken
                }
                if taken == stopAt { throw Stop() }
            }
            await #expect(throws: Stop.self, "stopped after \(what)") { _ = try await archiver.run(before: cutoff, outputDirectory: output) }
            try await Self.expectInvariant(store, pairs: Self.pairs)
            // Each archived row is either still in the ledger or counted in its pair's checkpoint, never both.
            for (s, p) in Self.pairs {
                let inLedger = try await store.auditLog(AuditQuery(storeID: s, productID: p, limit: 1000)).count
                let checkpoint = try await store.checkpoint(storeID: s, productID: p)?.rows ?? 0
                let written = old.filter { $0.storeID == s && $0.productID == p }.count + 1
                #expect(Int64(inLedger) + checkpoint == Int64(written), "after \(what)")
            }
        }
        let report = try await LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 4).run(before: cutoff, outputDirectory: output)
        let archive = try #require(report.archives.first)
        #expect(report.resumed != nil && archive.isComplete && report.summary.hasPrefix("Finished the interrupted archive run"))
        Self.expectSameRows(try Self.readBack(archive), old)
        try await Self.expectInvariant(store, pairs: Self.pairs)
        #expect(try await store.auditLog(AuditQuery(limit: 1000)).count == Self.pairs.count)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func anInterruptedRunWhoseFileChangedIsRefused(_ backend: Backend) async throws {
        struct Stop: Error {}
        let db = TestDatabase(backend)
        let clock = ArchiveTestClock(0)
        let output = db.folder.appendingPathComponent("archive").path
        let store = try await Self.open(db, clock: clock)
        _ = try await Self.writeHistory(store, clock: clock, pairs: Self.pairs, perPair: 3)
        try await Self.drainOutbox(store)
        var archiver = LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 2)
        archiver.afterStep = { (step: LedgerArchiver.Step) throws in if case .batch = step { throw Stop() } }
        await #expect(throws: Stop.self) { _ = try await archiver.run(before: Self.realNow - 10 * Self.day, outputDirectory: output) }
        let run = try #require(try await store.archives().first)
        try Data("not the archive".utf8).write(to: URL(fileURLWithPath: run.files[0].file))
        await #expect { _ = try await LedgerArchiver(store: store, safetyWindowMillis: Self.window).run(before: Self.realNow - 10 * Self.day, outputDirectory: output) } throws: { error in
            CommandLineErrors.sentence(for: error).contains("has changed (SHA-256 differs")
        }
        #expect(try await store.archives().first?.deletedThroughSequence == run.deletedThroughSequence)
        try await store.close()
    }

    /// Two runs at once (an overlapping cron job): a second run in the same folder is refused while the first holds
    /// it (it would rename its files, short if the first is deleting, over the first run's recorded ones), and a run
    /// that computed the same range in another folder is refused when it records, before it deletes anything.
    @Test(arguments: Backend.available)
    func twoRunsAtOnceNeverReplaceOrAdoptEachOthersFiles(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let clock = ArchiveTestClock(0)
        let output = db.folder.appendingPathComponent("archive").path
        let store = try await Self.open(db, clock: clock)
        _ = try await Self.writeHistory(store, clock: clock, pairs: Self.pairs, perPair: 3)
        try await Self.drainOutbox(store)
        let cutoff = Self.realNow - 10 * Self.day
        let archiver = LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 2)

        let held = try LedgerArchiver.lockFolder(output)
        await #expect { _ = try await archiver.run(before: cutoff, outputDirectory: output) } throws: { error in
            CommandLineErrors.sentence(for: error).contains("another `bazaar archive` is running")
        }
        #expect(try await store.archives().isEmpty)
        close(held)
        // Released once every copy of the descriptor is closed: a process another test forks at that moment (`system`)
        // holds a copy until it execs (the descriptor is close-on-exec), which on a loaded machine has taken a while.
        #expect(try await eventually {
            guard let again = try? LedgerArchiver.lockFolder(output) else { return false }
            close(again)
            return true
        }, "the folder's lock is free again")

        // The same range recorded a second time (the other run's record): refused, nothing deleted by it.
        var stopped = LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 2)
        struct Stop: Error {}
        stopped.afterStep = { (step: LedgerArchiver.Step) throws in if case .recorded = step { throw Stop() } }
        await #expect(throws: Stop.self) { _ = try await stopped.run(before: cutoff, outputDirectory: output) }
        let recorded = try #require(try await store.archives().first)
        await #expect { try await store.recordArchive(recorded) } throws: { error in
            error is ArchiveRunConflict && CommandLineErrors.sentence(for: error).contains("deleted nothing")
        }
        #expect(try await store.archives().count == 1)
        #expect(try await store.archives().first?.deletedThroughSequence == recorded.deletedThroughSequence)
        // The first run resumes and finishes; the invariant holds.
        _ = try await archiver.run(before: cutoff, outputDirectory: output)
        try await Self.expectInvariant(store, pairs: Self.pairs)
        try await store.close()
    }

    /// A retried request whose movements were archived is never answered from rows that are gone: its idempotency
    /// record (past its retention, not purged yet) goes with the run, and the retry is a new request.
    @Test(arguments: Backend.available)
    func anIdempotencyRecordOfArchivedMovementsIsForgottenWithThem(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let clock = ArchiveTestClock(Self.realNow - 30 * Self.day)
        let store = try await Self.open(db, clock: clock)
        let claim = IdempotencyClaim(scope: "key-1", key: "retry-me", fingerprint: "f")
        let request = WriteRequest(commands: [try command(delta: 3)], actor: "t", idempotency: claim)
        let first = try await store.apply(request)
        clock.set(Self.realNow)
        let recent = WriteRequest(commands: [try command(delta: 1)], actor: "t", idempotency: IdempotencyClaim(scope: "key-1", key: "recent", fingerprint: "g"))
        _ = try await store.apply(recent)
        try await Self.drainOutbox(store)
        _ = try await LedgerArchiver(store: store, safetyWindowMillis: Self.window)
            .run(before: Self.realNow - 10 * Self.day, outputDirectory: db.folder.appendingPathComponent("a").path)
        // The old key: applied again as a new request (its rows are archived); the recent one still replays.
        let again = try await store.apply(request)
        #expect(!again.replayed && again.movements.count == 1 && again.movements[0].movementID != first.movements[0].movementID)
        #expect(try await store.apply(recent).replayed)
        try await Self.expectInvariant(store, pairs: [("S1", "P1")])
        try await store.close()
    }

    /// Writers keep writing while a run deletes in small batches: none is refused or lost, every level is exact.
    @Test(arguments: Backend.available)
    func writersWritingDuringARunLoseNothing(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let clock = ArchiveTestClock(0)
        let output = db.folder.appendingPathComponent("archive").path
        let store = try await Self.open(db, clock: clock)
        let pairs = (1...4).flatMap { s in (1...5).map { p in ("S\(s)", "P\(p)") } }
        let old = try await Self.writeHistory(store, clock: clock, pairs: pairs, perPair: 12)
        try await Self.drainOutbox(store)
        let before = try await pairs.asyncMap { try await store.level(storeID: $0.0, productID: $0.1)?.quantity ?? 0 }
        let archiver = LedgerArchiver(store: store, safetyWindowMillis: Self.window, batchRows: 7)
        let written = try await withThrowingTaskGroup(of: [Movement].self) { group in
            group.addTask { _ = try await archiver.run(before: Self.realNow - 10 * Self.day, outputDirectory: output); return [] }
            for writer in 0..<4 {
                group.addTask {
                    var mine: [Movement] = []
                    for i in 0..<60 {
                        let (s, p) = pairs[(writer * 7 + i) % pairs.count]
                        mine += try await store.apply(WriteRequest(commands: [try command(s, p, delta: 1)], actor: "writer \(writer)")).movements
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(written.count == 240)
        try await Self.expectInvariant(store, pairs: pairs)
        for (index, (s, p)) in pairs.enumerated() {
            let mine = written.filter { $0.storeID == s && $0.productID == p }.count
            #expect(try await store.level(storeID: s, productID: p)?.quantity == before[index] + Int64(mine), "\(s)/\(p)")
        }
        let run = try #require(try await store.archives().first)
        #expect(run.isComplete && run.rows == Int64(old.count))
        let remaining = try await store.auditLog(AuditQuery(limit: 1000))
        #expect(remaining.count == written.count + pairs.count && remaining.allSatisfy { $0.sequence > run.lastSequence })
        try await store.close()
    }

    @Test func refusalsAreSentences() async throws {
        let db = TestDatabase(.sqlite)
        let clock = ArchiveTestClock(Self.realNow)
        let store = try await Self.open(db, clock: clock)
        let archiver = LedgerArchiver(store: store, safetyWindowMillis: Self.window)
        let output = db.folder.path
        let cases: [(Int64, String)] = [
            (Self.realNow + Self.day, "Nothing was archived: the cut-off \(RFC3339.format(millis: Self.realNow + Self.day)) is in the future"),
            (Self.realNow - 2 * Self.day, "is inside the idempotency window"),
        ]
        for (cutoff, sentence) in cases {
            await #expect { _ = try await archiver.run(before: cutoff, outputDirectory: output) } throws: { error in
                let text = CommandLineErrors.sentence(for: error)
                return text.contains(sentence) && text.hasSuffix(".")
            }
        }
        // An output that cannot be a folder: a file is in the way.
        let blocked = db.folder.appendingPathComponent("file").path
        FileManager.default.createFile(atPath: blocked, contents: Data())
        clock.set(Self.realNow - 30 * Self.day)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 1)], actor: "t"))
        try await Self.drainOutbox(store)
        await #expect { _ = try await archiver.run(before: Self.realNow - 9 * Self.day, outputDirectory: blocked) } throws: { error in
            CommandLineErrors.sentence(for: error).contains("give an --output folder you can write to")
        }
        try await store.close()
    }
}

/// `/audit-logs` and `/v1/changes` name the archived periods their query reaches.
@Suite struct ArchivedPeriodsHTTPTests {
    @Test func theLedgerHistoryAnswersNameTheArchivedPeriodsTheyReach() async throws {
        let db = TestDatabase()
        let clock = ArchiveTestClock(0)
        let store = try await LedgerArchiveTests.open(db, clock: clock)
        let old = try await LedgerArchiveTests.writeHistory(store, clock: clock, pairs: [("S1", "P1")], perPair: 3)
        try await LedgerArchiveTests.drainOutbox(store)
        let report = try await LedgerArchiver(store: store, safetyWindowMillis: LedgerArchiveTests.window)
            .run(before: LedgerArchiveTests.realNow - 10 * LedgerArchiveTests.day, outputDirectory: db.folder.appendingPathComponent("a").path)
        try await store.close()
        let files = try #require(report.archives.first?.files)
        try await Harness.withApp(db.url) { _, client in
            let all = try await client.call(.get, "/audit-logs?store_id=S1&product_id=P1")
            #expect(all.status == 200 && all.items.count == 1)
            let archived = all.json["archived"] as? [[String: Any]] ?? []
            #expect(archived.map { $0["file"] as? String } == files.map { $0.relativeFile as String? })
            #expect(archived.first?["file"] as? String == "ledger-1-\(old.count)/ledger-\(files[0].period).jsonl.gz")
            #expect(archived.map { ($0["rows"] as? NSNumber)?.int64Value ?? 0 }.reduce(0, +) == Int64(old.count))
            #expect(archived.allSatisfy { $0["period"] is String && $0["earliest_at"] is String && $0["sha256"] is String })
            // The pair's balance at the cut-off: quantity = checkpoint + the deltas of the items.
            let checkpoint = all.json["checkpoint"] as? [String: Any] ?? [:]
            #expect((checkpoint["quantity"] as? NSNumber)?.int64Value == old.reduce(0) { $0 + $1.delta })
            #expect((checkpoint["rows"] as? NSNumber)?.int64Value == Int64(old.count))
            let level = try await client.call(.get, "/get-stock/S1/P1")
            #expect(level.int("quantity") == old.reduce(0) { $0 + $1.delta } + 5 && level.int("version") == Int64(old.count) + 1)
            let recent = try await client.call(.get, "/audit-logs?since=\(RFC3339.format(millis: LedgerArchiveTests.realNow - LedgerArchiveTests.day))")
            #expect(recent.status == 200 && (recent.json["archived"] as? [Any])?.isEmpty == true)
            let changes = try await client.call(.get, "/v1/changes")
            #expect((changes.json["archived"] as? [Any])?.count == files.count && changes.items.count == 1)
            let cursor = try #require(changes.string("next_cursor"))
            #expect((try await client.call(.get, "/v1/changes?cursor=\(cursor)").json["archived"] as? [Any])?.isEmpty == true)
        }
    }
}

/// The time a test store records its writes at.
final class ArchiveTestClock: Sendable {
    private let millis: Locked<Int64>
    init(_ millis: Int64) { self.millis = Locked(millis) }
    var now: Int64 { millis.withLock { $0 } }
    func set(_ value: Int64) { millis.withLock { $0 = value } }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
