import Synchronization

/// Coalesces concurrent writes into one transaction, so that durability costs one sync per batch
/// instead of one per request (group commit).
///
/// While a flush runs, new jobs queue; the next flush takes them all (up to `maxBatch`). With
/// `concurrentFlushes` > 1 (a server database), the next batch is prepared while the previous one waits for its
/// commit to reach the disk; SQLite has one writer and keeps 1. Each caller is
/// answered only after the flush that contains its job has returned, i.e. after the commit. The flush
/// reports one result per job, so one refused job never fails its neighbours.
///
/// The queue is bounded (`maxPending`): past it, `submit` throws `Overloaded` at once instead of letting latency grow
/// without bound (the HTTP layer answers 503 with `Retry-After`; a client retries with its `Idempotency-Key`).
public final class GroupCommitter<Job: Sendable, Output: Sendable>: Sendable {
    public typealias Flush = @Sendable ([Job]) async -> [Result<Output, any Error>]

    private struct Pending: Sendable {
        var job: Job
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State: Sendable {
        var pending: [Pending] = []
        var flushing = 0
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let concurrentFlushes: Int
    private let maxPending: Int
    private let flush: Flush

    public init(maxBatch: Int = 512, concurrentFlushes: Int = 1, maxPending: Int = 10_000, flush: @escaping Flush) {
        self.maxBatch = maxBatch
        self.concurrentFlushes = max(1, concurrentFlushes)
        self.maxPending = max(1, maxPending)
        self.flush = flush
    }

    public func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let admission: GroupCommitAdmission = state.withLock { state in
                guard state.pending.count < maxPending else { return .refused }
                state.pending.append(Pending(job: job, continuation: continuation))
                if state.flushing >= concurrentFlushes { return .queued }
                state.flushing += 1
                return .queuedAndDrain
            }
            switch admission {
            case .refused: continuation.resume(throwing: Overloaded(queued: maxPending))
            case .queuedAndDrain: Task { await self.drain() }
            case .queued: break
            }
        }
    }

    private func drain() async {
        while true {
            let batch: [Pending] = state.withLock { state in
                if state.pending.isEmpty {
                    state.flushing -= 1
                    return []
                }
                let count = min(maxBatch, state.pending.count)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            let results = await flush(batch.map(\.job))
            for (index, pending) in batch.enumerated() {
                let result = index < results.count ? results[index] : .failure(GroupCommitError.missingResult)
                pending.continuation.resume(with: result)
            }
        }
    }
}

public enum GroupCommitError: Error { case missingResult }

/// What `submit` did with a job.
enum GroupCommitAdmission { case queued, queuedAndDrain, refused }

/// Too many writes are already waiting for a commit: refused at once rather than queued without bound.
public struct Overloaded: Error, CustomStringConvertible {
    public var queued: Int
    public init(queued: Int) { self.queued = queued }
    public var description: String { "\(queued) writes are already waiting for the database" }
}
