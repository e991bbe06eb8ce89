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
    let store: any StockStore
    let publisher: any EventPublisher
    let signal: OutboxSignal
    let logger: Logger
    let batchSize: Int
    let pollInterval: Duration

    public init(store: any StockStore, publisher: any EventPublisher, signal: OutboxSignal, logger: Logger,
                batchSize: Int = 1000, pollInterval: Duration = .seconds(1)) {
        self.store = store
        self.publisher = publisher
        self.signal = signal
        self.logger = logger
        self.batchSize = batchSize
        self.pollInterval = pollInterval
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
        await withGracefulShutdownHandler {
            for await _ in signal.stream.cancelOnGracefulShutdown() {
                await drain()
            }
        } onGracefulShutdown: {
            signal.notify()
        }
        // Publish what the last requests committed before the process ends.
        await drain()
    }

    /// Publishes everything pending, movements then other events; returns how many events went out.
    @discardableResult
    public func drain() async -> Int {
        do {
            guard try await store.holdRelayLease() else { return 0 }  // another node relays this outbox
        } catch {
            logger.warning("could not check the outbox relay lease; will retry", metadata: ["error": "\(error)"])
            return 0
        }
        return await drain(batch: { try await store.outboxBatch(limit: $0) }, delete: { try await store.deleteOutbox(through: $0) })
            + drain(batch: { try await store.eventOutboxBatch(limit: $0) }, delete: { try await store.deleteEventOutbox(through: $0) })
    }

    private func drain(batch: (Int) async throws -> [OutboxEntry], delete: (Int64) async throws -> Void) async -> Int {
        var published = 0
        var failures = 0
        while true {
            do {
                let entries = try await batch(batchSize)
                guard let last = entries.last else { return published }
                try await publisher.publish(entries.map { OutboundEvent(topic: $0.topic, key: $0.key, id: $0.eventID, payload: $0.payload, movement: $0.movement) })
                try await delete(last.sequence)
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
    }
}
