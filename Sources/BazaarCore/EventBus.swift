public import BazaarDomain
import Synchronization

/// An event on its way out: a topic, a partition key (the store id) and a CloudEvents JSON payload.
public struct OutboundEvent: Sendable, Equatable {
    public var topic: String
    public var key: String
    public var id: String
    public var payload: String
    /// The movement a movement event describes, when it travels in-process (spares consumers a JSON parse).
    public var movement: Movement?

    public init(topic: String, key: String, id: String, payload: String, movement: Movement? = nil) {
        self.topic = topic
        self.key = key
        self.id = id
        self.payload = payload
        self.movement = movement
    }
}

/// Where the outbox relay publishes: the in-process bus by default, Kafka in production.
public protocol EventPublisher: Sendable {
    /// Returns once every event is accepted durably (for Kafka: a positive delivery report each).
    func publish(_ events: [OutboundEvent]) async throws
}

/// The embedded default's event bus: delivers every published event to every in-process subscriber of its topic.
///
/// Subscribers get an `AsyncStream` with a bounded buffer; a subscriber too slow to keep up loses the oldest
/// events rather than stalling the relay (they can resync from `/v1/changes`).
public final class InProcessEventBus: EventPublisher {
    private struct Subscriber: Sendable {
        var topic: String
        var continuation: AsyncStream<OutboundEvent>.Continuation
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    public func subscribe(topic: String, buffer: Int = 100_000) -> AsyncStream<OutboundEvent> {
        let (stream, continuation) = AsyncStream<OutboundEvent>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = Subscriber(topic: topic, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ events: [OutboundEvent]) async throws {
        let current = subscribers.withLock { Array($0.values) }
        for subscriber in current {
            for event in events where event.topic == subscriber.topic {
                subscriber.continuation.yield(event)
            }
        }
    }
}
