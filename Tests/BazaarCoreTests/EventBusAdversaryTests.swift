@testable import BazaarCore
import Synchronization
import Testing

/// `InProcessEventBus` against an adversary: subscribers slower than publishers, publishers racing, a publisher
/// cancelled while it waits, a subscriber joining mid-stream or leaving while the publisher waits on it.
@Suite("In-process event bus against an adversary") struct EventBusAdversaryTests {
    static func event(_ id: String, topic: String = "t") -> OutboundEvent { OutboundEvent(topic: topic, key: "k", id: id, payload: id) }

    /// Three publishers racing, a fast subscriber and a slow one: each sees every event once, each publisher's in
    /// its order, and the slow one's backlog never passes the high-water mark (plus one a racing publisher).
    @Test func aSlowSubscriberHoldsPublishersBackAndNobodyLosesOrReordersAnEvent() async throws {
        let bus = InProcessEventBus(highWater: 16)
        let fast = bus.subscribe(topic: "t"), slow = bus.subscribe(topic: "t"), other = bus.subscribe(topic: "u")
        let publishers = 3, perPublisher = 400
        let mostBehind = Atomic<Int>(0)
        async let fastSeen = Self.collect(fast, count: publishers * perPublisher)
        async let otherSeen = Self.collect(other, count: publishers * perPublisher)
        async let slowSeen = Self.collect(slow, count: publishers * perPublisher) { backlog in
            _ = mostBehind.max(backlog, ordering: .relaxed)
            try? await Task.sleep(for: .microseconds(200))  // slower than the publishers, without spinning a thread
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<publishers {
                group.addTask {
                    for n in 0..<perPublisher {
                        // Another topic's events in between: never delivered to these subscribers.
                        try await bus.publish([Self.event("p\(p)-\(n)"), Self.event("x", topic: "u")].shuffled())
                    }
                }
            }
            try await group.waitForAll()
        }
        for seen in [await fastSeen, await slowSeen] {
            #expect(seen.count == publishers * perPublisher && Set(seen).count == seen.count)
            for p in 0..<publishers {
                #expect(seen.filter { $0.hasPrefix("p\(p)-") } == (0..<perPublisher).map { "p\(p)-\($0)" }, "publisher \(p)'s order")
            }
        }
        #expect(mostBehind.load(ordering: .relaxed) <= bus.highWater + publishers, "the backlog stays bounded")
        #expect(await otherSeen == Array(repeating: "x", count: publishers * perPublisher), "topics kept apart")
    }

    /// Reads `count` events, calling `pace` with the backlog after each.
    static func collect(_ subscription: InProcessEventBus.Subscription, count: Int,
                        pace: @Sendable (Int) async -> Void = { _ in }) async -> [String] {
        var seen: [String] = []
        for await event in subscription {
            seen.append(event.id)
            await pace(subscription.backlog.count.load(ordering: .relaxed))
            if seen.count == count { break }
        }
        return seen
    }

    /// A publisher cancelled while it waits on a full subscriber stops with `CancellationError`; the subscriber has a
    /// prefix of its events in order, no more than the high-water mark, and later events still reach it.
    @Test func aCancelledPublisherLeavesAPrefixInOrderAndTheBusWorking() async throws {
        let bus = InProcessEventBus(highWater: 5)
        let subscription = bus.subscribe(topic: "t")
        let publisher = Task { try await bus.publish((0..<20).map { Self.event("e\($0)") }) }
        publisher.cancel()
        await #expect(throws: CancellationError.self) { try await publisher.value }
        // 20 events cannot pass a high-water mark of 5 while nobody reads: the publisher was still waiting.
        let reader = Task { () -> [String] in
            var ids: [String] = []
            for await event in subscription {
                ids.append(event.id)
                if event.id == "after" { break }
            }
            return ids
        }
        try await bus.publish([Self.event("after")])
        let ids = await reader.value
        let prefix = ids.dropLast()
        #expect(ids.last == "after")
        #expect(Array(prefix) == (0..<prefix.count).map { "e\($0)" } && prefix.count <= bus.highWater)
    }

    /// A subscriber that joins while events flow gets a contiguous run to the end: no gap, no reordering.
    @Test func aSubscriberJoiningMidStreamGetsAContiguousSuffix() async throws {
        let bus = InProcessEventBus(highWater: 8)
        let early = bus.subscribe(topic: "t")
        let total = 300
        let publisher = Task {
            for n in 0..<total { try await bus.publish([Self.event("\(n)")]) }
        }
        var earlySeen: [Int] = []
        var lateReader: Task<[Int], Never>?
        for await event in early {
            earlySeen.append(Int(event.id)!)
            if earlySeen.count == 100 {
                let subscription = bus.subscribe(topic: "t")
                lateReader = Task {
                    var seen: [Int] = []
                    for await event in subscription {
                        seen.append(Int(event.id)!)
                        if seen.last == total - 1 { break }
                    }
                    return seen
                }
            }
            if earlySeen.count == total { break }
        }
        try await publisher.value
        #expect(earlySeen == Array(0..<total))
        let lateSeen = await lateReader!.value
        let first = try #require(lateSeen.first)
        #expect(first >= 100 && lateSeen == Array(first..<total), "a contiguous suffix")
    }

    /// A subscriber that ends its subscription while the publisher waits on its backlog must release the publisher
    /// (ARCHITECTURE.md: "a subscriber must keep consuming, or end its subscription"). Bounded by a generous
    /// liveness limit, not a speed assertion: with the bug the publisher waits for ever.
    ///
    /// Known issue: `publish` snapshots the subscribers and polls the backlog of a subscriber that is gone, so it
    /// never returns. The fix (EventBus.swift): mark the backlog ended in `onTermination` and stop waiting on it.
    @Test func aSubscriberThatLeavesReleasesAWaitingPublisher() async throws {
        let bus = InProcessEventBus(highWater: 2)
        let publisher = await Self.publishTenThenLeaveAfterOne(bus)
        let finished = await Self.finishes(publisher, within: .seconds(10))
        #expect(finished, "the publisher was released")
    }

    /// Subscribes, starts a publisher of ten events, reads the first, waits until the publisher waits on this
    /// subscriber's full backlog, and leaves: the subscription and its iterator end with this scope.
    static func publishTenThenLeaveAfterOne(_ bus: InProcessEventBus) async -> Task<Void, any Error> {
        let subscription = bus.subscribe(topic: "t")
        let publisher = Task { try await bus.publish((0..<10).map { Self.event("e\($0)") }) }
        var iterator = subscription.makeAsyncIterator()
        #expect(await iterator.next()?.id == "e0")
        // Wait until the publisher has filled the backlog again: it now waits on this subscriber.
        // Sleeps, not yields: a yielding loop keeps one of the pool's two threads busy and starves other tests.
        while subscription.backlog.count.load(ordering: .relaxed) < bus.highWater { try? await Task.sleep(for: .milliseconds(1)) }
        return publisher
    }

    /// Whether `task` ends before `limit`; cancels it otherwise.
    static func finishes(_ task: Task<Void, any Error>, within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await task.value) != nil }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next()!
            task.cancel()
            group.cancelAll()
            return first
        }
    }
}
