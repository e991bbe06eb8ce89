import KafkaClient
import Synchronization

/// One partition of one topic: the unit of order in Kafka.
struct PartitionLane: Hashable, Sendable {
    var topic: String
    var partition: Int32
}

/// A yes or no, set once, that any number of tasks can wait for.
final class Settlement: Sendable {
    private let state = Mutex<(value: Bool?, waiters: [CheckedContinuation<Bool, Never>])>((nil, []))

    /// Sets the value (the first call wins) and wakes every waiter.
    func settle(_ value: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    func value() async -> Bool {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool? in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}

/// Where one batch's work on each of its partitions stands against the batch polled before it, so that batches
/// processed side by side keep each partition's order: `turn` waits until the batch before has settled the
/// partition, and `settle` lets the next batch's part of it begin. Made by the loop in the order polled.
struct PartitionTurns: Sendable {
    let before: [PartitionLane: Settlement]
    let mine: [PartitionLane: Settlement]

    /// The partitions the batch has messages of.
    var lanes: Dictionary<PartitionLane, Settlement>.Keys { mine.keys }

    /// Waits for the batch before to settle `lane`: true once it has (or it had no part there), false if it could
    /// not (its commands there were not all applied: this batch's must not pass them).
    func turn(_ lane: PartitionLane) async -> Bool {
        await before[lane]?.value() ?? true
    }

    /// This batch's part of `lane` is done (`ok`) or given up (a batch after it then gives up its own part too).
    func settle(_ lane: PartitionLane, _ ok: Bool) {
        mine[lane]?.settle(ok)
    }

    /// Settles what the batch left unsettled (the loop calls it when the batch's processing returns).
    func settleAll(_ ok: Bool) {
        for settlement in mine.values { settlement.settle(ok) }
    }
}

/// Each partition's latest batch, kept by the loop as batches are polled.
struct PartitionLanes {
    private var latest: [PartitionLane: Settlement] = [:]

    mutating func turns(for batch: KafkaBatch) -> PartitionTurns {
        var before: [PartitionLane: Settlement] = [:]
        var mine: [PartitionLane: Settlement] = [:]
        for lane in Set(batch.messages.map { PartitionLane(topic: $0.topic, partition: $0.partition) }) {
            before[lane] = latest[lane]
            let settlement = Settlement()
            mine[lane] = settlement
            latest[lane] = settlement
        }
        return PartitionTurns(before: before, mine: mine)
    }
}
