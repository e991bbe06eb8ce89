import BazaarCore
import BazaarDomain
import Synchronization
import Testing

@Suite("Live feed: each movement once, none from before a reload")
struct LiveFeedDeliveryTests {
    /// A reader told to reset loads the state again; the events that waited in its buffer are in that state already.
    /// Before: they followed the reset, so a client applying movements (a sync client, a counter) counted them twice.
    @Test func afterAResetNoEventFromBeforeTheReloadFollows() async throws {
        let fake = FakeLiveSource()
        let feed = LiveFeed(source: fake.source, settings: LiveFeedTests.settings(buffer: 4))
        try await LiveFeedTests.running(feed) {
            var events = try feed.subscribe(storeID: "S1").makeAsyncIterator()
            #expect(await LiveFeedTests.next(&events) == .ready)
            let readsBefore = fake.reads
            fake.append(store: "S1", count: 50)
            // Two reads of the ledger begun after the append: the 50 were handed to the stream (4 kept, the rest dropped).
            for _ in 0..<6000 where fake.reads < readsBefore + 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(fake.reads >= readsBefore + 2)
            #expect(await LiveFeedTests.next(&events) == .reset)
            // The reader loads now (the ledger up to 50), then one more movement is committed.
            fake.append(store: "S1")
            var next = await LiveFeedTests.next(&events)
            while case .alerts? = next { next = await LiveFeedTests.next(&events) }
            guard case .movement(let movement) = next else {
                Issue.record("a movement after the reset, got \(String(describing: next))")
                return
            }
            #expect(movement.sequence == 51, "the first movement after the reset is the one committed after the reload")
        }
    }

    /// Storage fails in the middle of a tick's pages (a lost connection). Before: the pages read before the failure
    /// were sent, but the cursor stayed where the tick began, so the next tick sent them again.
    @Test func aStorageErrorBetweenTwoPagesSendsNoMovementTwice() async throws {
        let fake = FakeLiveSource()
        // The page after the first full page fails, once.
        let failure = FailOnce()
        var source = fake.source
        let read = source.movements
        source.movements = { after, limit in
            let fail = failure.state.withLock { state in
                guard state.armed, !state.failed else { return false }
                state.failed = true
                return true
            }
            if fail { throw StorageLost() }
            let page = try await read(after, limit)
            if page.count == limit { failure.state.withLock { $0.armed = true } }
            return page
        }
        let feed = LiveFeed(source: source, settings: LiveFeedTests.settings(buffer: 10_000))
        try await LiveFeedTests.running(feed) {
            var events = try feed.subscribe(storeID: nil).makeAsyncIterator()
            #expect(await LiveFeedTests.next(&events) == .ready)
            fake.append(store: "S1", count: 1200)
            var sequences: [Int64] = []
            while Set(sequences).count < 1200, let event = await LiveFeedTests.next(&events) {
                if case .movement(let movement) = event { sequences.append(movement.sequence) }
            }
            #expect(failure.state.withLock { $0.failed }, "the failure happened")
            #expect(sequences == Array(1...1200), "each movement once, in commit order")
        }
    }

    /// One key (a till's, a script's) cannot take every stream of the node: the others' streams still open.
    @Test func oneKeyCannotHoldEveryStreamOfTheNode() throws {
        var settings = LiveFeedTests.settings(maxStreams: 10)
        settings.maxStreamsPerOwner = 3
        let feed = LiveFeed(source: FakeLiveSource().source, settings: settings)
        var held = try (0..<3).map { _ in try feed.subscribe(storeID: "S1", owner: "key_till") }
        #expect(throws: StreamRefused.tooManyForKey(limit: 3)) { try feed.subscribe(storeID: nil, owner: "key_till") }
        let other = try feed.subscribe(storeID: nil, owner: "key_admin")
        held.removeLast().finish()
        #expect(feed.streamCount == 3)
        held.append(try feed.subscribe(storeID: "S1", owner: "key_till"))
        #expect(throws: StreamRefused.tooManyForKey(limit: 3)) { try feed.subscribe(storeID: "S1", owner: "key_till") }
        other.finish()
    }
}

private struct StorageLost: Error {}

private final class FailOnce: Sendable {
    let state = Mutex((armed: false, failed: false))
}
