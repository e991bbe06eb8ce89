import BazaarCore
import BazaarDomain
@testable import BazaarMySQL
import Foundation
import MySQLClient
import Testing

/// Issue 15: on MariaDB the outbox holds one row per group commit, the range of its movements' sequences, not a
/// row per movement; the relay reads whole ranges in commit order, and drains the rows an older release queued.
@Suite("Outbox by ranges") struct OutboxRangeTests {
    @Test func runsSplitWhereTheSequencesStopBeingConsecutive() {
        #expect(OutboxRange.runs(of: [Int64]()).isEmpty)
        #expect(OutboxRange.runs(of: [7]) == [OutboxRange(first: 7, last: 7)])
        #expect(OutboxRange.runs(of: [3, 4, 5, 9, 10, 12]) == [OutboxRange(first: 3, last: 5), OutboxRange(first: 9, last: 10),
                                                              OutboxRange(first: 12, last: 12)])
        #expect(OutboxRange.runs(of: Array(Int64(1)...2500)) == [OutboxRange(first: 1, last: 1000), OutboxRange(first: 1001, last: 2000),
                                                                  OutboxRange(first: 2001, last: 2500)], "a bulk load's runs are cut")
    }

    @Test func theReadMergesNeighbouringRangesIntoOneScan() {
        let ranges = [OutboxRange(first: 1, last: 3), OutboxRange(first: 4, last: 4), OutboxRange(first: 8, last: 9)]
        #expect(OutboxRange.condition(ranges) == "seq BETWEEN 1 AND 4 OR seq BETWEEN 8 AND 9")
    }

    static func command(_ product: String) throws -> MovementCommand {
        try BazaarAppTests.command("S1", product, delta: 1)
    }

    static func rawConnection(_ db: borrowing TestDatabase) throws -> MySQLConnection {
        let connection = MySQLConnection(configuration: try MySQLConfiguration(url: db.url))
        try connection.open()
        return connection
    }

    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func aGroupCommitQueuesOneRangeAndTheRelayReadsEveryMovementOfIt() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        let connection = try Self.rawConnection(db)
        defer { connection.close() }
        let receipt = try await store.apply(WriteRequest(commands: try (1...5).map { try Self.command("P\($0)") }, actor: "t"))
        let sequences = receipt.movements.map(\.sequence)
        let rows = try connection.select("SELECT seq, last_seq FROM outbox_ranges").map { [try $0.int(0), try $0.int(1)] }
        #expect(rows == [[sequences.first!, sequences.last!]], "one row for the five movements")
        #expect(try await store.outboxDepth() == 5)
        #expect(try await store.outboxBatch(limit: 0).isEmpty)
        let batch = try await store.outboxBatch(limit: 100)
        #expect(batch.map(\.eventID) == receipt.movements.map(\.movementID))
        #expect(batch.map(\.movement) == receipt.movements)
        #expect(batch.map(\.payload) == receipt.movements.map(\.cloudEventJSON))
        try await store.deleteOutbox(sequences: batch.map(\.sequence))
        #expect(try await store.outboxDepth() == 0)
        #expect(try await store.outboxBatch(limit: 100).isEmpty)
        try await store.close()
    }

    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func aBatchTakesWholeRangesAndLeavesTheRestForTheNext() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        var written: [Movement] = []
        for request in 0..<3 {
            written += try await store.apply(WriteRequest(commands: try (1...3).map { try Self.command("P\(request)-\($0)") }, actor: "t")).movements
        }
        let first = try await store.outboxBatch(limit: 4)
        #expect(first.map(\.eventID) == written.prefix(6).map(\.movementID), "the second range is taken whole")
        try await store.deleteOutbox(sequences: first.map(\.sequence))
        #expect(try await store.outboxDepth() == 3)
        let second = try await store.outboxBatch(limit: 4)
        #expect(second.map(\.eventID) == written.suffix(3).map(\.movementID))
        try await store.deleteOutbox(sequences: second.map(\.sequence))
        #expect(try await store.outboxDepth() == 0)
        try await store.close()
    }

    /// A node of an older release, still running during a rolling deploy, queues a row per movement in `outbox`
    /// (`seq` = the movement's sequence); the relay merges both tables in commit order.
    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func rowsAnOlderReleaseQueuedAreMergedInCommitOrder() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        let connection = try Self.rawConnection(db)
        defer { connection.close() }
        let first = try await store.apply(WriteRequest(commands: [try Self.command("A")], actor: "new")).movements
        let older = try await store.apply(WriteRequest(commands: [try Self.command("B"), try Self.command("C")], actor: "old")).movements
        // What the older release wrote instead of a range: a row per movement, keyed by the movement's sequence.
        try connection.run("DELETE FROM outbox_ranges WHERE seq = \(older[0].sequence)")
        try connection.run("INSERT INTO outbox (seq, movement_seq) VALUES (\(older[0].sequence), \(older[0].sequence)), (\(older[1].sequence), \(older[1].sequence))")
        let last = try await store.apply(WriteRequest(commands: [try Self.command("D")], actor: "new")).movements
        let all = first + older + last
        #expect(try await store.outboxDepth() == 4)
        let bounds = try await (store as! MySQLStockStore).archiveBounds(cutoffMillis: 0)
        #expect(bounds.oldestUnpublishedSequence == first[0].sequence, "the archive keeps the oldest row either table waits for")

        #expect(try await store.outboxBatch(limit: 100).map(\.eventID) == all.map(\.movementID), "one commit order across both tables")
        // A batch never passes over a row of the other table that it did not read: one at a time, still in order.
        var published: [String] = []
        for _ in 0..<4 {
            let batch = try await store.outboxBatch(limit: 1)
            published += batch.map(\.eventID)
            try await store.deleteOutbox(sequences: batch.map(\.sequence))
        }
        #expect(published == all.map(\.movementID))
        #expect(try await store.outboxDepth() == 0)
        #expect(try connection.select("SELECT COUNT(*) FROM outbox")[0].int(0) == 0)
        try await store.close()
    }

    /// A range whose movements are gone (an older release's `bazaar archive` knew only `outbox`) can never be
    /// published; it must not stop the relay behind it.
    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func aRangeWhoseMovementsAreGoneDoesNotStopTheRelay() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await Stores.open(db)
        let connection = try Self.rawConnection(db)
        defer { connection.close() }
        let gone = try await store.apply(WriteRequest(commands: try (1...3).map { try Self.command("G\($0)") }, actor: "t")).movements
        try connection.run("DELETE FROM stock_movements WHERE seq BETWEEN \(gone.first!.sequence) AND \(gone.last!.sequence)")
        let kept = try await store.apply(WriteRequest(commands: [try Self.command("K")], actor: "t")).movements
        let batch = try await store.outboxBatch(limit: 3)
        #expect(batch.map(\.eventID) == kept.map(\.movementID))
        #expect(try connection.select("SELECT COUNT(*) FROM outbox_ranges WHERE seq = \(gone.first!.sequence)")[0].int(0) == 0)
        try await store.deleteOutbox(sequences: batch.map(\.sequence))
        #expect(try await store.outboxDepth() == 0)
        try await store.close()
    }
}
