public import BazaarDomain
import Synchronization

/// An event on its way out: a topic, a partition key (the store id) and a CloudEvents JSON payload.
public struct OutboundEvent: Sendable, Equatable {
    public var topic: String
    public var key: String
    public var id: String
    /// The CloudEvents JSON. A movement event made without it renders it from `movement` when asked: the Kafka
    /// publisher renders (and signs) a movement's event itself, so rendering it beforehand would be wasted.
    public var payload: String { renderedPayload ?? movement?.cloudEventJSON ?? "" }
    private var renderedPayload: String?
    /// The movement a movement event describes, when it travels in-process (spares consumers a JSON parse).
    public var movement: Movement?

    public init(topic: String, key: String, id: String, payload: String, movement: Movement? = nil) {
        self.init(topic: topic, key: key, id: id, renderedPayload: payload, movement: movement)
    }

    /// A movement's event, its payload rendered only when asked.
    public init(topic: String, key: String, id: String, movement: Movement) {
        self.init(topic: topic, key: key, id: id, renderedPayload: nil, movement: movement)
    }

    private init(topic: String, key: String, id: String, renderedPayload: String?, movement: Movement?) {
        self.topic = topic
        self.key = key
        self.id = id
        self.renderedPayload = renderedPayload
        self.movement = movement
    }

    /// This event with its payload rendered, for a publisher that hands copies to several readers.
    public func rendered() -> OutboundEvent {
        var event = self
        event.renderedPayload = payload
        return event
    }

    public static func == (a: OutboundEvent, b: OutboundEvent) -> Bool {
        a.topic == b.topic && a.key == b.key && a.id == b.id && a.movement == b.movement && a.payload == b.payload
    }
}

/// Where the outbox relay publishes: the in-process bus by default, Kafka in production.
public protocol EventPublisher: Sendable {
    /// Returns once every event is accepted durably (for Kafka: a positive delivery report each).
    func publish(_ events: [OutboundEvent]) async throws
}

/// The embedded default's event bus: delivers every published event to every in-process subscriber of its topic,
/// in publish order, losing none. A subscriber that falls behind by `highWater` events makes `publish` wait,
/// so the backlog stays in the durable outbox instead of in memory.
public final class InProcessEventBus: EventPublisher {
    private struct Subscriber: Sendable {
        var topic: String
        var continuation: AsyncStream<OutboundEvent>.Continuation
        var backlog: Backlog
    }

    /// Events handed to a subscriber and not yet taken by it.
    final class Backlog: Sendable {
        let count = Atomic<Int>(0)
        /// Set when the subscription ends: nothing drains the backlog any more, so nobody may wait on it.
        let ended = Atomic<Bool>(false)
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    let highWater: Int

    public init(highWater: Int = 10_000) { self.highWater = highWater }

    public func subscribe(topic: String) -> Subscription {
        let (stream, continuation) = AsyncStream<OutboundEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = nextID.add(1, ordering: .relaxed).newValue
        let backlog = Backlog()
        subscribers.withLock { $0[id] = Subscriber(topic: topic, continuation: continuation, backlog: backlog) }
        continuation.onTermination = { [weak self] _ in
            backlog.ended.store(true, ordering: .relaxed)
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return Subscription(stream: stream, backlog: backlog)
    }

    public func publish(_ events: [OutboundEvent]) async throws {
        let events = events.map { $0.rendered() }  // once, not once per reader
        let current = subscribers.withLock { Array($0.values) }
        for subscriber in current {
            for event in events where event.topic == subscriber.topic {
                while subscriber.backlog.count.load(ordering: .relaxed) >= highWater && !subscriber.backlog.ended.load(ordering: .relaxed) {
                    try await Task.sleep(for: .milliseconds(2))
                }
                subscriber.backlog.count.add(1, ordering: .relaxed)
                if case .terminated = subscriber.continuation.yield(event) { break }
            }
        }
    }

    /// The events of one topic, in publish order.
    public struct Subscription: AsyncSequence, Sendable {
        public typealias Element = OutboundEvent
        let stream: AsyncStream<OutboundEvent>
        let backlog: Backlog

        public struct AsyncIterator: AsyncIteratorProtocol {
            var base: AsyncStream<OutboundEvent>.AsyncIterator
            let backlog: Backlog

            public mutating func next() async -> OutboundEvent? {
                let event = await base.next()
                if event != nil { backlog.count.subtract(1, ordering: .relaxed) }
                return event
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator(), backlog: backlog) }
    }
}
