import BazaarCore
import BazaarDomain
@testable import BazaarMySQL
import Dispatch
import MySQLClient
import Synchronization
import Testing

/// Issue 15: a Kafka-sized group commit takes its idempotency keys as new (`IdempotencyReads`) rather than reading
/// thousands of records that are not there. A redelivery must still apply each command once and replay its first
/// answer: a known key is found by its record's insert, or, for a request refused now, by a read before the commit.
@Suite(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
struct IdempotencyReadsTests {
    /// Receipts of `quantity` on pairs `first..<first+count` of store S1, each expecting its pair's version 0 (new).
    static func firstReceipts(_ count: Int, from first: Int = 0, keyPrefix: String) throws -> [WriteRequest] {
        try (first..<first + count).map { i in
            let command = try MovementCommand(storeID: "S1", productID: "P\(i)", change: .delta(5), reason: .receipt,
                                              reference: "po-\(i)", expectedVersion: 0)
            return WriteRequest(commands: [command], actor: "kafka:test",
                                idempotency: IdempotencyClaim(scope: "commands:t", key: "\(keyPrefix)\(i)", fingerprint: "f\(i)"))
        }
    }

    static func movementIDs(_ results: [Result<WriteReceipt, any Error>]) throws -> [[String]] {
        try results.map { try $0.get().movements.map(\.movementID) }
    }

    @Test(arguments: [true, false])
    func aRedeliveredBatchReplaysEachCommandOnceAndTheNextBatchesReadFirst(bulk: Bool) async throws {
        let db = TestDatabase(.mariadb)
        let store = try await BulkLedgerWriteTests.store(db, bulk: bulk)
        let first = try BulkLedgerWriteTests.requests(1000)
        let firstResults = await store.applyInOrder(first)
        #expect(store.idempotencyReads.batchesAssumedNew == 1, "a batch of 1,000 new keys read no records first")
        #expect(store.writeRetries.count(.knownKey) == 0)

        // A redelivery of half of them, interleaved with as many new commands.
        let fresh = try BulkLedgerWriteTests.requests(1000, keyPrefix: "fresh-")
        let mixed = (0..<500).flatMap { [first[2 * $0], fresh[$0]] }
        let mixedResults = await store.applyInOrder(mixed)
        #expect(store.writeRetries.count(.knownKey) == 1, "the attempt that took the known keys as new was dropped once")
        #expect(store.writeRetries.count(.duplicateKey) == 0, "a dropped attempt is counted as a known key, not a race")
        for (index, result) in mixedResults.enumerated() {
            let receipt = try result.get()
            if index % 2 == 0 {
                #expect(receipt.replayed)
                #expect(receipt.movements.map(\.movementID) == (try firstResults[index].get().movements.map(\.movementID)))
            } else {
                #expect(!receipt.replayed)
            }
        }

        // The next large batches read first: another redelivery drops no attempt.
        let again = await store.applyInOrder(first)
        #expect(try again.allSatisfy { try $0.get().replayed })
        #expect(try Self.movementIDs(again) == Self.movementIDs(firstResults))
        #expect(store.writeRetries.count(.knownKey) == 1)
        #expect(store.idempotencyReads.batchesAssumedNew == 2)

        let ledger = try BulkLedgerWriteTests.ledger(db)
        #expect(ledger.movements.count == 1500 && ledger.records.count == 1500 && ledger.unmatched == 0)
        try await store.close()
    }

    @Test func aKnownKeyWhoseRequestIsRefusedNowReplaysItsFirstAnswer() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await BulkLedgerWriteTests.store(db, bulk: true)
        let first = try Self.firstReceipts(400, keyPrefix: "k")
        let firstResults = await store.applyInOrder(first)
        #expect(try firstResults.allSatisfy { !(try $0.get().replayed) })

        // Redelivered now, each of these would be refused (its pair is at version 1, not 0) and so record nothing:
        // only a read of their keys finds that they were applied. Beside them, 400 new commands keep the batch large.
        let batch = Array(first[..<10]) + (try Self.firstReceipts(400, from: 400, keyPrefix: "k"))
        let results = await store.applyInOrder(batch)
        #expect(store.idempotencyReads.batchesAssumedNew == 2, "the batch took its keys as new")
        for index in 0..<10 {
            let receipt = try results[index].get()
            #expect(receipt.replayed, "a redelivered command refused now replays its first answer")
            #expect(receipt.movements.map(\.movementID) == (try firstResults[index].get().movements.map(\.movementID)))
        }
        #expect(try results[10...].allSatisfy { !(try $0.get().replayed) })
        let ledger = try BulkLedgerWriteTests.ledger(db)
        #expect(ledger.movements.count == 800 && ledger.records.count == 800 && ledger.unmatched == 0)
        try await store.close()
    }

    @Test func aKnownKeyWithAnotherRequestIsRefusedAsReused() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await BulkLedgerWriteTests.store(db, bulk: true)
        _ = try await store.applyInOrder(Self.firstReceipts(400, keyPrefix: "k"))
        // A valid request under a known key: applied in memory, its record's insert finds the key.
        var reused = try Self.firstReceipts(1, from: 1000, keyPrefix: "x")[0]
        reused.idempotency = IdempotencyClaim(scope: "commands:t", key: "k20", fingerprint: "another request")
        let results = await store.applyInOrder([reused] + (try Self.firstReceipts(400, from: 400, keyPrefix: "k")))
        #expect(store.idempotencyReads.batchesAssumedNew == 2, "the batch took its keys as new")
        guard case .failure(DomainError.idempotencyKeyReused) = results[0] else {
            Issue.record("a known key with another request is refused as reused, got \(results[0])")
            return
        }
        #expect(try results[1...].allSatisfy { !(try $0.get().replayed) })
        #expect(try BulkLedgerWriteTests.ledger(db).movements.count == 800)
        try await store.close()
    }

    /// A redelivery's known keys sorted after a whole bulk execution of new ones (the records go in key order): the
    /// first executions (as text: the first multi-row statements) succeed, a later one fails on a known key, and the
    /// rolled-back attempt leaves nothing of either behind. The rerun applies the new commands once and replays the known ones.
    @Test(arguments: [true, false])
    func anAttemptDroppedAfterItsFirstBulkExecutionsLeavesNothingBehind(bulk: Bool) async throws {
        let db = TestDatabase(.mariadb)
        let store = try await BulkLedgerWriteTests.store(db, bulk: bulk)
        let known = try BulkLedgerWriteTests.requests(500, keyPrefix: "z-")
        let knownResults = await store.applyInOrder(known)
        let fresh = try BulkLedgerWriteTests.requests(3000, keyPrefix: "a-")
        let results = await store.applyInOrder(fresh + known)
        #expect(store.idempotencyReads.batchesAssumedNew == 2, "both batches took their keys as new")
        #expect(store.writeRetries.count(.knownKey) == 1, "the second batch's attempt was dropped once")
        if bulk {
            #expect(MySQLLedgerTransaction.bulkMaxRows < 3000, "the new keys fill at least one bulk execution before the known ones")
        }
        #expect(try results[..<3000].allSatisfy { !(try $0.get().replayed) })
        #expect(try results[3000...].allSatisfy { try $0.get().replayed })
        #expect(try Self.movementIDs(Array(results[3000...])) == Self.movementIDs(knownResults))
        let ledger = try BulkLedgerWriteTests.ledger(db)
        #expect(ledger.movements.count == 3500 && ledger.records.count == 3500 && ledger.unmatched == 0)
        // The dropped attempt took no sequence, or gave back what it took: no gap, no repeat.
        #expect(try ledger.movements.map { try $0.int(0) } == Array(Int64(1)...3500))
        try await store.close()
    }

    /// A batch that read first and found records (a small one, or one after a dropped attempt) starts the countdown
    /// too: the redelivery goes on, and the next large batch would otherwise pay a dropped attempt.
    @Test func aBatchThatReadsKnownKeysMakesTheNextLargeBatchesReadFirst() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await BulkLedgerWriteTests.store(db, bulk: true)
        let first = try BulkLedgerWriteTests.requests(1000)
        _ = await store.applyInOrder(first)
        #expect(store.idempotencyReads.batchesAssumedNew == 1)
        let small = await store.applyInOrder(Array(first[..<10]))  // under `minimumClaims`: reads first
        #expect(try small.allSatisfy { try $0.get().replayed })
        let rest = await store.applyInOrder(Array(first[10...]))
        #expect(try rest.allSatisfy { try $0.get().replayed })
        #expect(store.idempotencyReads.batchesAssumedNew == 1, "the large batch after the small one's known keys read first")
        #expect(store.writeRetries.count(.knownKey) == 0, "no attempt was dropped")
        #expect(try BulkLedgerWriteTests.ledger(db).movements.count == 1000)
        try await store.close()
    }

    /// A commit whose answer was lost (the connection cut in its round trip, `CuttingProxy`) may have happened: the
    /// batch is delivered again with the same keys, so the next large batches read first rather than each drop an
    /// attempt on keys that are now known. Here it had happened: the redelivery replays every command, and no
    /// attempt is dropped.
    @Test(.enabled(if: Backend.selected == .mariadb, "the proxy needs the passwordless test primary"), arguments: [true, false])
    func aCommitWhoseAnswerWasLostMakesTheNextLargeBatchesReadFirst(bulk: Bool) async throws {
        let db = TestDatabase(.mariadb)
        let (proxy, url) = try CommitCutTests.throughProxy(db)
        defer { proxy.stop() }
        var options = MySQLStockStore.Options(primary: try MySQLConfiguration(url: url))
        options.primary.bulkExecution = bulk
        let store = MySQLStockStore(options: options)
        try await store.migrate()
        let batch = try BulkLedgerWriteTests.requests(1000)
        proxy.arm { transaction, packet in packet.contains("COMMIT") && transaction.contains("UPDATE ledger_clock") }
        let lost = await store.applyInOrder(batch)
        #expect(proxy.cuts == 1)
        #expect(lost.allSatisfy { result in
            guard case .failure(let error as StorageUnavailable) = result else { return false }
            return error.writeMayHaveApplied
        }, "every writer is told its write may have applied: \(String(describing: lost.first))")
        #expect(store.idempotencyReads.batchesAssumedNew == 1, "the first batch took its keys as new")
        let again = await store.applyInOrder(batch)
        #expect(try again.allSatisfy { try $0.get().replayed }, "the commit had happened: each command replays")
        #expect(store.idempotencyReads.batchesAssumedNew == 1, "the batch after the lost answer read first")
        #expect(store.writeRetries.count(.knownKey) == 0, "no attempt was dropped on the known keys")
        let ledger = try BulkLedgerWriteTests.ledger(db)
        #expect(ledger.movements.count == 1000 && ledger.records.count == 1000 && ledger.unmatched == 0)
        try await store.close()
    }

    /// A client's retry is common over HTTP, and a dropped attempt would delay the whole group: HTTP group commits
    /// read first, however large.
    @Test func httpGroupCommitsAlwaysReadFirst() async throws {
        let db = TestDatabase(.mariadb)
        let store = try await BulkLedgerWriteTests.store(db, bulk: true)
        let requests = try BulkLedgerWriteTests.requests(2000)
        await withTaskGroup(of: Void.self) { group in
            for request in requests { group.addTask { _ = try? await store.apply(request) } }
        }
        #expect(store.idempotencyReads.batchesAssumedNew == 0)
        #expect(try BulkLedgerWriteTests.ledger(db).movements.count == 2000)
        try await store.close()
    }

    /// Two nodes that had not met a known key redeliver the same commands at once: each finds them recorded (by its
    /// insert, or by the other's lock on the stock rows and then its insert) and replays them.
    @Test func twoNodesRedeliveringTheSameCommandsAtOnceReplayThem() async throws {
        let db = TestDatabase(.mariadb)
        let first = try BulkLedgerWriteTests.requests(1200)
        let writer = try await BulkLedgerWriteTests.store(db, bulk: true)
        let firstResults = await writer.applyInOrder(first)
        try await writer.close()
        let a = try await BulkLedgerWriteTests.store(db, bulk: true), b = try await BulkLedgerWriteTests.store(db, bulk: true)
        async let fromA = a.applyInOrder(first)
        async let fromB = b.applyInOrder(first)
        for results in await [fromA, fromB] {
            #expect(try results.allSatisfy { try $0.get().replayed })
            #expect(try Self.movementIDs(results) == Self.movementIDs(firstResults))
        }
        #expect(a.idempotencyReads.batchesAssumedNew == 1 && b.idempotencyReads.batchesAssumedNew == 1)
        let ledger = try BulkLedgerWriteTests.ledger(db)
        #expect(ledger.movements.count == 1200 && ledger.records.count == 1200)
        try await a.close()
        try await b.close()
    }
}

/// The policy alone: which batches read first, and for how long after a known key.
@Suite struct IdempotencyReadsPolicyTests {
    @Test func afterAKnownKeyTheNextLargeBatchesReadFirstAndThenTakeKeysAsNewAgain() {
        let reads = IdempotencyReads()
        #expect(reads.readFirst(claims: IdempotencyReads.minimumClaims - 1), "a small batch reads first")
        #expect(!reads.readFirst(claims: IdempotencyReads.minimumClaims))
        reads.metKnownKey()
        for _ in 0..<10 { #expect(reads.readFirst(claims: 5)) }  // small batches do not use up the countdown
        for _ in 0..<IdempotencyReads.batchesReadingFirst { #expect(reads.readFirst(claims: 5000)) }
        #expect(!reads.readFirst(claims: 5000), "after the countdown, large batches take their keys as new again")
        #expect(reads.batchesAssumedNew == 2)
    }

    /// The tests of races between batches that read first make every batch read first.
    @Test func readingAlwaysMakesEveryBatchReadFirst() {
        let reads = IdempotencyReads()
        reads.readAlways()
        for _ in 0..<(IdempotencyReads.batchesReadingFirst + 5) { #expect(reads.readFirst(claims: 5000)) }
        #expect(reads.batchesAssumedNew == 0)
    }

    /// Flushes in flight at once take the countdown's last unit together: exactly `batchesReadingFirst` read first.
    @Test func concurrentBatchesUseTheCountdownExactlyOnceEach() {
        for _ in 0..<200 {
            let reads = IdempotencyReads()
            reads.metKnownKey()
            let readFirst = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: IdempotencyReads.batchesReadingFirst + 8) { _ in
                if reads.readFirst(claims: 5000) { readFirst.add(1, ordering: .relaxed) }
            }
            #expect(readFirst.load(ordering: .relaxed) == IdempotencyReads.batchesReadingFirst)
            #expect(reads.batchesAssumedNew == 8)
        }
    }
}
