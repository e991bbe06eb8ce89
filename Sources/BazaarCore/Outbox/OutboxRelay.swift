public import Logging
import Metrics
public import ServiceLifecycle

/// A wake-up call from committed writes to the outbox relay; coalesces many signals into one.
public final class OutboxSignal: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func notify() { continuation.yield() }
}

/// Publishes the outbox in commit order and deletes events only once the publisher has accepted them.
///
/// At-least-once: a crash between publish and delete republishes that batch; consumers deduplicate by event id.
public struct OutboxRelay: Service {
    let store: any OutboxStore
    let publisher: any EventPublisher
    let signal: OutboxSignal
    let logger: Logger
    let batchSize: Int
    let pollInterval: Duration
    /// How long the last drain at shutdown may publish. What is still in the outbox then stays committed there and
    /// goes out from the next start (of this node or another): a large backlog must not hold up a shutdown.
    let shutdownDrainBudget: Duration

    public init(store: any OutboxStore, publisher: any EventPublisher, signal: OutboxSignal, logger: Logger,
                batchSize: Int = 1000, pollInterval: Duration = .seconds(1), shutdownDrainBudget: Duration = .seconds(4)) {
        self.store = store
        self.publisher = publisher
        self.signal = signal
        self.logger = logger
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.shutdownDrainBudget = shutdownDrainBudget
    }

    public func run() async throws {
        // Wake on a signal from a commit, or every poll interval (for writes by another process or node).
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: pollInterval)
                signal.notify()
            }
        }
        // `bazaar_outbox_depth`: movements committed and not yet published (grows while the broker is down).
        let depthRecorder = Task {
            let depth = Gauge(label: "bazaar_outbox_depth")
            while !Task.isCancelled {
                if let count = try? await store.outboxDepth() { depth.record(count) }
                try? await Task.sleep(for: .seconds(5))
            }
        }
        defer {
            ticker.cancel()
            depthRecorder.cancel()
        }
        signal.notify()
        // A drain in flight when the shutdown starts is abandoned at once (a publish waiting on an unreachable
        // broker would otherwise hold the shutdown for `message.timeout.ms`); nothing is lost: it is not deleted.
        try? await cancelWhenGracefulShutdown {
            for await _ in signal.stream {
                await drain()
            }
        }
        // Publish what the last requests committed before the process ends, within the budget (cancelled after it).
        let published = await withTaskGroup(of: Int?.self) { group in
            group.addTask { await drain(until: .now + shutdownDrainBudget) }
            group.addTask {
                try? await Task.sleep(for: shutdownDrainBudget)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? 0
        }
        let left = (try? await store.outboxDepth()) ?? -1
        logger.info("outbox relay stopped", metadata: ["published_at_shutdown": "\(published)", "left_for_next_start": "\(left)"])
    }

    /// Publishes everything pending, movements then other events; returns how many events went out.
    @discardableResult
    public func drain(until deadline: ContinuousClock.Instant? = nil) async -> Int {
        do {
            guard try await store.holdRelayLease() else { return 0 }  // another node relays this outbox
        } catch {
            logger.warning("could not check the outbox relay lease; will retry", metadata: ["error": "\(error)"])
            return 0
        }
        return await drain(batch: { try await store.outboxBatch(limit: $0) }, delete: { try await store.deleteOutbox(sequences: $0) }, until: deadline)
            + drain(batch: { try await store.eventOutboxBatch(limit: $0) }, delete: { try await store.deleteEventOutbox(sequences: $0) }, until: deadline)
    }

    private func drain(batch: (Int) async throws -> [OutboxEntry], delete: ([Int64]) async throws -> Void,
                       until deadline: ContinuousClock.Instant?) async -> Int {
        var published = 0
        var failures = 0
        while !Task.isCancelled {
            if let deadline {
                if ContinuousClock.now >= deadline { return published }
            } else if Task.isShuttingDownGracefully {
                return published  // leave a long backlog to the budgeted last drain
            }
            do {
                let entries = try await batch(batchSize)
                guard !entries.isEmpty else { return published }
                try await publisher.publish(entries.map(\.outbound))
                // Exactly what went out: a row that committed after this batch was read stays for the next one.
                try await delete(entries.map(\.sequence))
                published += entries.count
                BazaarMetrics.eventsPublished.increment(by: entries.count)
                failures = 0
            } catch {
                failures += 1
                logger.warning("outbox publish failed; will retry", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                if failures >= 3 || Task.isCancelled { return published }
                try? await Task.sleep(for: .milliseconds(100 * (1 << min(failures, 6))))
            }
        }
        return published
    }
}
