import BazaarCore
import BazaarDomain
import ServiceLifecycle
import Synchronization
import Testing

/// A ledger and alerts the test writes by hand, and how often the feed read them.
final class FakeLiveSource: Sendable {
    private let state = Mutex<(ledger: [Movement], alerts: [String: [Alert]], reads: Int)>(([], [:], 0))

    var source: LiveFeed.Source {
        LiveFeed.Source(
            latestSequence: { self.state.withLock { $0.ledger.last?.sequence ?? 0 } },
            movements: { after, limit in
                self.state.withLock { state in
                    state.reads += 1
                    return Array(state.ledger.filter { $0.sequence > after }.prefix(limit))
                }
            },
            openAlerts: { store in self.state.withLock { $0.alerts[store] ?? [] } })
    }

    var reads: Int { state.withLock { $0.reads } }

    func append(store: String, count: Int = 1) {
        state.withLock { state in
            for _ in 0..<count {
                let sequence = (state.ledger.last?.sequence ?? 0) + 1
                state.ledger.append(Movement(sequence: sequence, movementID: "m\(sequence)", storeID: store, productID: "P", delta: 1,
                                             quantityBefore: 0, quantityAfter: 1, version: sequence, reason: .receipt, reference: nil,
                                             actor: "t", atMillis: 0, recordedAtMillis: 0))
            }
        }
    }

    func setAlerts(store: String, ids: [String]) {
        state.withLock { state in
            state.alerts[store] = ids.map {
                Alert(id: $0, kind: .lowStock, status: .open, storeID: store, productID: "P", quantity: 0, threshold: 1, message: "", openedAtMillis: 0)
            }
        }
    }
}

@Suite("Live feed: one reader of the ledger for every stream of a node")
struct LiveFeedTests {
    static func settings(buffer: Int = 1024, maxStreams: Int = 10) -> LiveFeed.Settings {
        var settings = LiveFeed.Settings()
        settings.tick = .milliseconds(10)
        settings.alertTick = .milliseconds(10)
        settings.buffer = buffer
        settings.maxStreams = maxStreams
        return settings
    }

    /// Runs the feed for the body, then shuts it down gracefully.
    static func running(_ feed: LiveFeed, _ body: @Sendable () async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: [feed], logger: .init(label: "t")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// The next event that is not a heartbeat, within a bound.
    static func next(_ iterator: inout LiveFeed.Stream.AsyncIterator) async -> LiveEvent? {
        while let event = await iterator.next() {
            if event != .heartbeat { return event }
        }
        return nil
    }

    @Test func aStoreStreamGetsReadyThenItsOwnMovementsInOrderAndItsAlerts() async throws {
        let fake = FakeLiveSource()
        fake.append(store: "S1", count: 5)  // before the stream: not sent
        let feed = LiveFeed(source: fake.source, settings: Self.settings())
        try await Self.running(feed) {
            let stream = try feed.subscribe(storeID: "S1")
            var events = stream.makeAsyncIterator()
            #expect(await Self.next(&events) == .ready)
            #expect(await Self.next(&events) == .alerts(storeID: "S1", []), "the store's open alerts once after ready")
            fake.append(store: "S2")
            fake.append(store: "S1", count: 2)
            guard case .movement(let first) = await Self.next(&events), case .movement(let second) = await Self.next(&events) else {
                Issue.record("two movements")
                return
            }
            #expect((first.storeID, first.sequence, second.sequence) == ("S1", 7, 8), "only S1's, in commit order")
            fake.setAlerts(store: "S1", ids: ["a1"])
            guard case .alerts(_, let alerts) = await Self.next(&events) else { Issue.record("alerts"); return }
            #expect(alerts.map(\.id) == ["a1"])
        }
    }

    @Test func aChainStreamGetsEveryStoresMovements() async throws {
        let fake = FakeLiveSource()
        let feed = LiveFeed(source: fake.source, settings: Self.settings())
        try await Self.running(feed) {
            var events = try feed.subscribe(storeID: nil).makeAsyncIterator()
            #expect(await Self.next(&events) == .ready)
            fake.append(store: "S1")
            fake.append(store: "S2")
            var stores: [String] = []
            while stores.count < 2, case .movement(let m) = await Self.next(&events) { stores.append(m.storeID) }
            #expect(stores == ["S1", "S2"])
        }
    }

    @Test func aStreamThatFallsBehindIsToldToReloadAndOthersLoseNothing() async throws {
        let fake = FakeLiveSource()
        let feed = LiveFeed(source: fake.source, settings: Self.settings(buffer: 8))
        try await Self.running(feed) {
            var slow = try feed.subscribe(storeID: "S1").makeAsyncIterator()
            #expect(await Self.next(&slow) == .ready)
            fake.append(store: "S1", count: 100)
            // The slow reader waits; then its next event says reset.
            for _ in 0..<200 where fake.reads < 5 { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(100))
            var sawReset = false
            for _ in 0..<20 {
                if await Self.next(&slow) == .reset { sawReset = true; break }
            }
            #expect(sawReset)
        }
    }

    @Test func streamsPastTheLimitAreRefusedAndClosedOnesFreeTheirPlace() async throws {
        let feed = LiveFeed(source: FakeLiveSource().source, settings: Self.settings(maxStreams: 2))
        var first: LiveFeed.Stream? = try feed.subscribe(storeID: "S1")
        let second = try feed.subscribe(storeID: nil)
        #expect(throws: StreamRefused.tooMany(limit: 2)) { try feed.subscribe(storeID: "S1") }
        first?.finish()
        first = nil
        #expect(feed.streamCount == 1)
        _ = try feed.subscribe(storeID: "S3")
        _ = second
    }

    @Test func shutdownEndsEveryStreamAndRefusesNewOnes() async throws {
        let fake = FakeLiveSource()
        let feed = LiveFeed(source: fake.source, settings: Self.settings())
        let stream = try feed.subscribe(storeID: "S1")
        try await Self.running(feed) {
            var events = stream.makeAsyncIterator()
            #expect(await Self.next(&events) == .ready)
        }
        var events = stream.makeAsyncIterator()
        var ended = false
        for _ in 0..<10 where !ended { ended = await events.next() == nil }
        #expect(ended, "the stream ended with the feed")
        #expect(throws: StreamRefused.shuttingDown) { try feed.subscribe(storeID: "S1") }
    }

    @Test func withoutStreamsNothingIsRead() async throws {
        let fake = FakeLiveSource()
        let feed = LiveFeed(source: fake.source, settings: Self.settings())
        try await Self.running(feed) {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(fake.reads == 0)
    }
}
