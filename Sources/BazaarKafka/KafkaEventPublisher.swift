public import BazaarCore
import BazaarDomain
public import KafkaClient
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The outbox relay's publisher when Kafka is configured: every event to its topic (`bazaar.stock-movements`,
/// `bazaar.stock-alerts`), keyed by store so that one store's events stay in order on one partition, and
/// accepted only on positive delivery reports; then the alerts to this node's in-process bus (its webhook
/// dispatcher). Movements reach the intelligence engine and the caches of every node from the topic.
///
/// Kafka is never on the request path: writes commit to the outbox; while the broker is down the relay waits
/// here (librdkafka retries) and the outbox grows; when it returns, everything goes out in order.
public final class KafkaEventPublisher: EventPublisher {
    let producer: KafkaProducer
    let local: InProcessEventBus
    /// Signs the movement topic's events, so that nodes act only on events this deployment produced.
    let signer: MovementEventSigner
    /// The movement events published, remembered for this node's own consumers (`PublishedMovements`).
    let published: PublishedMovements?
    /// When the publish in progress started (0: none), for the health check.
    private let publishingSince = Atomic<Int64>(0)
    let clock: WallClock

    public init(producer: KafkaProducer, local: InProcessEventBus, signer: MovementEventSigner, published: PublishedMovements? = nil,
                clock: WallClock = .system) {
        self.producer = producer
        self.local = local
        self.signer = signer
        self.published = published
        self.clock = clock
    }

    public func publish(_ events: [OutboundEvent]) async throws {
        publishingSince.store(clock.nowMillis(), ordering: .relaxed)
        defer { publishingSince.store(0, ordering: .relaxed) }
        // Each message, with the movement it was signed from (remembered for this node's consumers).
        let signed = events.map { event -> (message: (topic: String, key: [UInt8]?, value: [UInt8]), movement: Movement?) in
            // A movement's event is rendered here, once, with its signature (the outbox leaves it unrendered).
            var movement: Movement?
            let payload: [UInt8]
            if event.topic != MovementEvent.topic {
                payload = Array(event.payload.utf8)
            } else if let signed = event.movement ?? Movement(cloudEventJSON: event.payload) {
                movement = signed
                payload = signer.signedCloudEventBytes(signed)
            } else {
                payload = Array(signer.signedStockEvent(event.payload).utf8)  // a reservation's, transfer's or order's
            }
            return ((event.topic, Array(event.key.utf8), payload), movement)
        }
        // Remembered before they are sent: this node's consumers may read them back before the delivery reports.
        published?.remember(signed.compactMap { sent in sent.movement.map { (sent.message.value, $0) } })
        _ = try await producer.sendBatch(signed.map(\.message))
        try await local.publish(events.filter { $0.topic != MovementEvent.topic })
    }

    /// nil when healthy; else how long events have been waiting for the broker.
    public func problem() -> String? {
        let since = publishingSince.load(ordering: .relaxed)
        guard since > 0, clock.nowMillis() - since > 5000 else { return nil }
        return "the broker has not acknowledged events for \((clock.nowMillis() - since) / 1000) s; the outbox holds them"
    }
}
