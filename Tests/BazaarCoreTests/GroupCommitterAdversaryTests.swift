import BazaarCore
import BazaarDomain
import Synchronization
import Testing

/// `GroupCommitter` against an adversary: callers cancelled while queued, a flush that answers too few results,
/// a queue filled past its bound while the commit is stuck. Nothing here waits on the clock: a flush that must
/// be stuck waits at a `Gate`, and the test learns that it got there from `Arrivals`.
@Suite("Group commit against an adversary") struct GroupCommitterAdversaryTests {
    /// Counts arrivals and lets a test wait until a number of them happened.
    final class Arrivals: Sendable {
        private let state = Mutex<(count: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

        func arrive() {
            let ready = state.withLock { state in
                state.count += 1
                let count = state.count
                let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
                state.waiters.removeAll { $0.0 <= count }
                return ready
            }
            for waiter in ready { waiter.resume() }
        }

        func wait(for count: Int) async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state in
                    if state.count >= count { return true }
                    state.waiters.append((count, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        }

        var count: Int { state.withLock { $0.count } }
    }

    static func outcome(_ body: @Sendable () async throws -> Int) async -> Result<Int, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// A caller cancelled while its job waits is still answered with its job's committed outcome: its write may be
    /// durable, so it must never be told it failed; and every job is flushed exactly once.
    @Test func cancelledCallersGetTheirCommittedOutcomeAndNoJobIsLostOrRepeated() async throws {
        let gate = Gate()
        let flushed = Locked<[Int]>([])
        let committer = GroupCommitter<Int, Int>(maxBatch: 16, concurrentFlushes: 2) { jobs in
            await gate.wait()
            flushed.withLock { $0 += jobs }
            return jobs.map { .success($0 * 2) }
        }
        let callers = (0..<200).map { job in Task { try await committer.submit(job) } }
        for (job, caller) in callers.enumerated() where job % 2 == 0 { caller.cancel() }
        gate.open()
        for (job, caller) in callers.enumerated() {
            #expect(try await caller.value == job * 2, "caller \(job) (cancelled: \(job % 2 == 0))")
        }
        #expect(flushed.withLock { $0 }.sorted() == Array(0..<200), "each job flushed exactly once")
    }

    /// A caller is answered only once the flush holding its job returned (after the commit), never before.
    @Test func aCallerIsAnsweredOnlyAfterItsFlushReturned() async throws {
        let committed = Locked<Set<Int>>([])
        let committer = GroupCommitter<Int, Int>(maxBatch: 7, concurrentFlushes: 2) { jobs in
            await Task.yield()
            committed.withLock { $0.formUnion(jobs) }
            return jobs.map { .success($0) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for job in 0..<300 {
                group.addTask {
                    let answer = try await committer.submit(job)
                    #expect(answer == job && committed.withLock { $0.contains(job) }, "job \(job) answered before its commit")
                }
            }
            try await group.waitForAll()
        }
    }

    /// A flush that answers fewer results than jobs fails exactly the unanswered ones (`missingResult`) and no
    /// other; one that answers more has its extra results ignored.
    @Test func aFlushThatAnswersTooFewOrTooManyResultsFailsOnlyTheUnansweredJobs() async throws {
        let batches = Locked<[[Int]]>([])
        let tooFew = GroupCommitter<Int, Int>(maxBatch: 8, concurrentFlushes: 2) { jobs in
            batches.withLock { $0.append(jobs) }
            await Task.yield()
            return jobs.dropLast().map { .success($0) }
        }
        let tooMany = GroupCommitter<Int, Int>(maxBatch: 8) { jobs in jobs.map { .success($0) } + [.success(-1), .failure(Overloaded(queued: 0))] }
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>, Result<Int, any Error>).self) { group in
            for job in 0..<200 {
                group.addTask {
                    async let few = Self.outcome { try await tooFew.submit(job) }
                    async let many = Self.outcome { try await tooMany.submit(job) }
                    return (job, await few, await many)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let unanswered = Set(batches.withLock { $0 }.compactMap(\.last))
        #expect(batches.withLock { $0 }.flatMap { $0 }.sorted() == Array(0..<200))
        for (job, few, many) in outcomes {
            if unanswered.contains(job) {
                #expect(throws: GroupCommitError.missingResult) { try few.get() }
            } else {
                #expect(try few.get() == job)
            }
            #expect(try many.get() == job)
        }
    }

    /// With the commit stuck, exactly `maxPending` jobs queue and every further one is refused at once with
    /// `Overloaded`; once the commit moves, every queued job completes and the queue accepts again.
    @Test func exactlyMaxPendingJobsQueueWhileTheCommitIsStuck() async throws {
        let gate = Gate()
        let arrivals = Arrivals()
        let committer = GroupCommitter<Int, Int>(maxBatch: 1000, maxPending: 8) { jobs in
            arrivals.arrive()
            await gate.wait()
            return jobs.map { .success($0) }
        }
        let first = Task { try await committer.submit(0) }
        await arrivals.wait(for: 1)  // job 0 is being flushed: the queue is empty and nothing drains it
        let refusals = Arrivals()
        let callers = (1...13).map { job in
            Task { () -> Int? in
                do { return try await committer.submit(job) } catch is Overloaded {
                    refusals.arrive()
                    return nil
                }
            }
        }
        await refusals.wait(for: 5)  // 13 callers, 8 places: 5 are refused without waiting for the stuck commit
        gate.open()
        #expect(try await first.value == 0)
        var answered: [Int] = []
        for caller in callers { if let value = try await caller.value { answered.append(value) } }
        #expect(answered.count == 8 && refusals.count == 5)
        #expect(try await committer.submit(99) == 99, "the queue accepts again")
    }
}
