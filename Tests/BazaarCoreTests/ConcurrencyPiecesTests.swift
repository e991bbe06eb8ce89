import BazaarCore
import BazaarDomain
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let now = Atomic<Int64>(1_000_000)
    var wallClock: WallClock { WallClock { [self] in now.load(ordering: .relaxed) } }
    func advance(_ millis: Int64) { now.add(millis, ordering: .relaxed) }
}

/// A gate a flush waits at until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

@Suite("Group commit") struct GroupCommitterTests {
    @Test func concurrentJobsShareFlushesAndEachGetsItsOwnResult() async throws {
        let flushes = Mutex<[Int]>([])
        let committer = GroupCommitter<Int, Int>(maxBatch: 64) { jobs in
            flushes.withLock { $0.append(jobs.count) }
            try? await Task.sleep(for: .milliseconds(5))  // a commit takes time: others queue meanwhile
            return jobs.map { $0 % 7 == 0 ? .failure(DomainError.invalid(field: "job", message: "refused")) : .success($0 * 2) }
        }
        let results = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for job in 1...300 {
                group.addTask {
                    do { return (job, .success(try await committer.submit(job))) } catch { return (job, .failure(error)) }
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for (job, result) in results {
            if job % 7 == 0 {
                #expect(throws: DomainError.self) { try result.get() }
            } else {
                #expect(try result.get() == job * 2, "a refused neighbour failed job \(job)")
            }
        }
        let sizes = flushes.withLock { $0 }
        #expect(sizes.reduce(0, +) == 300)
        #expect(sizes.count < 300, "jobs were coalesced into batches")
        #expect(sizes.allSatisfy { $0 <= 64 }, "no batch over maxBatch")
    }

    @Test func neverMoreFlushesInFlightThanAllowed() async throws {
        let inFlight = Atomic<Int>(0), most = Atomic<Int>(0)
        let committer = GroupCommitter<Int, Int>(maxBatch: 4, concurrentFlushes: 2) { jobs in
            let now = inFlight.add(1, ordering: .relaxed).newValue
            _ = most.max(now, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(3))
            inFlight.subtract(1, ordering: .relaxed)
            return jobs.map { .success($0) }
        }
        await withTaskGroup(of: Void.self) { group in
            for job in 0..<200 { group.addTask { _ = try? await committer.submit(job) } }
        }
        #expect(most.load(ordering: .relaxed) == 2)
    }

    /// Issue 11: a bounded queue. With the commit stuck, writes past `maxPending` are refused at once (503 over
    /// HTTP), not queued without bound; the queued ones complete once the commit moves. Nothing waits on a fixed
    /// delay: the flush signals that it reached the gate, and the refusal is awaited while the gate is still closed,
    /// so it cannot have waited for the stuck commit.
    @Test func pastItsBoundTheQueueRefusesAtOnce() async throws {
        let gate = Gate()
        let flushing = GroupCommitterAdversaryTests.Arrivals()
        let committer = GroupCommitter<Int, Int>(maxBatch: 1000, maxPending: 50) { jobs in
            flushing.arrive()
            await gate.wait()
            return jobs.map { .success($0) }
        }
        let first = Task { try await committer.submit(0) }  // the flush that hangs at the gate
        await flushing.wait(for: 1)  // job 0 is being flushed: the queue is empty and nothing drains it
        let refusals = GroupCommitterAdversaryTests.Arrivals()
        let callers = (1...51).map { job in
            Task { () -> Int? in
                do { return try await committer.submit(job) } catch is Overloaded {
                    refusals.arrive()
                    return nil
                }
            }
        }
        // 51 callers, 50 places: one is refused while the commit is still stuck. A queue that let it wait instead
        // never refuses: the poll gives up after 60 s and fails the test, and the gate opens so that nothing hangs.
        let deadline = ContinuousClock.now + .seconds(60)
        while refusals.count < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(refusals.count == 1, "no caller past the bound was refused while the commit was stuck")
        gate.open()
        #expect(try await first.value == 0)
        var answered = 0
        for (index, caller) in callers.enumerated() {
            guard let value = try await caller.value else { continue }
            #expect(value == index + 1, "each queued job gets its own result")
            answered += 1
        }
        #expect(answered == 50 && refusals.count == 1)
    }
}

@Suite("Circuit breaker") struct CircuitBreakerTests {
    @Test func opensAfterTheThresholdProbesOnceAndClosesOnSuccess() async {
        let clock = ManualClock()
        let recoveries = Atomic<Int>(0)
        let breaker = CircuitBreaker(failureThreshold: 3, openMillis: 1000, clock: clock.wallClock) { recoveries.add(1, ordering: .relaxed) }
        breaker.recordFailure()
        breaker.recordFailure()
        #expect(breaker.state == .closed && breaker.allow())
        breaker.recordFailure()
        #expect(breaker.state == .open && !breaker.allow(), "open after three failures")
        clock.advance(999)
        #expect(!breaker.allow())
        clock.advance(1)
        #expect(breaker.allow(), "one probe once the open period is over")
        #expect(breaker.state == .halfOpen && !breaker.allow(), "only one probe at a time")
        breaker.recordFailure()
        #expect(breaker.state == .open, "a failed probe opens it again")
        clock.advance(1000)
        #expect(breaker.allow())
        #expect(await breaker.recordSuccess(), "the probe's success closes it")
        #expect(breaker.state == .closed && recoveries.load(ordering: .relaxed) == 1)
        #expect(await breaker.recordSuccess() == false)
    }
}

@Suite("In-process event bus") struct EventBusTests {
    static func event(_ n: Int, topic: String = "t") -> OutboundEvent { OutboundEvent(topic: topic, key: "k", id: "e\(n)", payload: "\(n)") }

    @Test func everySubscriberGetsEveryEventOfItsTopicInOrder() async throws {
        let bus = InProcessEventBus()
        let a = bus.subscribe(topic: "t"), b = bus.subscribe(topic: "t"), other = bus.subscribe(topic: "u")
        try await bus.publish((0..<100).map { Self.event($0) } + [Self.event(1000, topic: "u")])
        for subscription in [a, b] {
            var seen: [String] = []
            for await event in subscription {
                seen.append(event.id)
                if seen.count == 100 { break }
            }
            #expect(seen == (0..<100).map { "e\($0)" })
        }
        var iterator = other.makeAsyncIterator()
        #expect(await iterator.next()?.id == "e1000")
    }

    @Test func aSubscriberThatFallsBehindMakesPublishWaitAndLosesNothing() async throws {
        let bus = InProcessEventBus(highWater: 10)
        let subscription = bus.subscribe(topic: "t")
        let published = Atomic<Int>(0)
        let publisher = Task {
            for n in 0..<50 {
                try await bus.publish([Self.event(n)])
                published.add(1, ordering: .relaxed)
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(published.load(ordering: .relaxed) <= 11, "publish waits at the high-water mark")
        var seen: [String] = []
        for await event in subscription {
            seen.append(event.id)
            if seen.count == 50 { break }
        }
        try await publisher.value
        #expect(seen == (0..<50).map { "e\($0)" })
    }
}

@Suite("In-process stock cache") struct StockCacheTests {
    @Test func keepsOnlyNewerVersionsAndEvictsTheLeastRecentlyUsed() {
        let cache = InProcessStockCache(capacity: 2, shardCount: 1)
        let a = StockKey(storeID: "S", productID: "A"), b = StockKey(storeID: "S", productID: "B"), c = StockKey(storeID: "S", productID: "C")
        cache.offer(a, StockLevel(quantity: 5, version: 5, updatedAtMillis: 1))
        cache.offer(a, StockLevel(quantity: 4, version: 4, updatedAtMillis: 1))
        #expect(cache.get(a)?.version == 5, "an older version never replaces a newer one")
        cache.offer(b, StockLevel(quantity: 1, version: 1, updatedAtMillis: 1))
        _ = cache.get(a)  // a is now the most recently used
        cache.offer(c, StockLevel(quantity: 1, version: 1, updatedAtMillis: 1))
        #expect(cache.get(b) == nil, "the least recently used went")
        #expect(cache.get(a)?.version == 5 && cache.get(c)?.version == 1)
    }

    @Test func entriesOlderThanTheAgeBoundAreNotServed() {
        let clock = ManualClock()
        let cache = InProcessStockCache(capacity: 10, shardCount: 1, maxAgeMillis: 100, clock: clock.wallClock)
        let key = StockKey(storeID: "S", productID: "A")
        cache.offer(key, StockLevel(quantity: 1, version: 1, updatedAtMillis: 1))
        #expect(cache.get(key) != nil)
        clock.advance(101)
        #expect(cache.get(key) == nil)
    }
}
