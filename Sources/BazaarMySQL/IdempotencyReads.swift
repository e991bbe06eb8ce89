import Synchronization

/// Whether a Kafka batch's group commit reads its requests' idempotency records before it applies them, or assumes
/// their keys new and lets the database say otherwise (issue 15).
///
/// A Kafka poll's batch carries thousands of command ids, and they are new but for a redelivery after a crash or a
/// rebalance. Reading their records first (a `SELECT` of each 500 keys, much of whose cost is the server's range
/// analysis of the key list) found nothing but cost the primary CPU: BENCHMARKS.md, "twentieth stop". So a batch of
/// `minimumClaims` or more keys assumes them new: a key that was recorded after all is found either by its record's
/// insert, which fails on the primary key (1062), or, for a request the batch refused (which records nothing), by a
/// read of the refused requests' keys before the commit. Either way the attempt is dropped (its stock rows written
/// and rolled back: a redelivery's first batch costs about twice) and the batch runs again reading every record
/// first: a known key replays its first answer, as it always has.
///
/// A redelivery comes as a run of known keys, so after a batch that took its keys as new met one (or any other 1062,
/// such as two nodes creating the same stock row), after a batch that read first and found records, and after a
/// commit whose answer was lost (its commands come again), the next `batchesReadingFirst` large batches read first
/// rather than each paying a dropped attempt. Partitions are written side by side, so a redelivery of several pays one dropped attempt for
/// each partition whose batch was under way before the first met a known key. HTTP group commits always read first:
/// a client's retry is common there, and a dropped attempt would delay every writer of the group.
final class IdempotencyReads: Sendable {
    static let minimumClaims = 400
    static let batchesReadingFirst = 64

    private let readingFirst = Atomic<Int>(0)
    private let assumedNewCount = Atomic<Int>(0)
    private let readingAlways = Atomic<Bool>(false)

    /// Whether a batch of `claims` keys reads their records first; a batch that does not is counted.
    func readFirst(claims: Int) -> Bool {
        if claims < Self.minimumClaims || readingAlways.load(ordering: .relaxed) { return true }
        var left = readingFirst.load(ordering: .relaxed)
        while left > 0 {
            let (exchanged, found) = readingFirst.compareExchange(expected: left, desired: left - 1, ordering: .relaxed)
            if exchanged { return true }
            left = found
        }
        assumedNewCount.add(1, ordering: .relaxed)
        return false
    }

    /// Every batch reads first from now on: for the tests of races between batches that read first, where a batch
    /// taking its keys as new would meet the other's records whether or not the two ran at once.
    func readAlways() { readingAlways.store(true, ordering: .relaxed) }

    /// A batch met a key already recorded: by its insert, or by reading it.
    func metKnownKey() {
        readingFirst.store(Self.batchesReadingFirst, ordering: .relaxed)
    }

    /// Batches of this store that assumed their keys new (for tests).
    var batchesAssumedNew: Int { assumedNewCount.load(ordering: .relaxed) }
}
