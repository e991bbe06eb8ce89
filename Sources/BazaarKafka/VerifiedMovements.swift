public import BazaarCore
import BazaarDomain
import KafkaClient
public import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The movements of `bazaar.stock-movements` that this deployment produced: each event's signature is checked before
/// it touches a cache or an alert; a forged or unreadable one is skipped, counted in
/// `bazaar_kafka_events_refused_total{reason}` and logged (once a minute at most, with its position).
public final class VerifiedMovements: Sendable {
    let signer: MovementEventSigner
    /// What this node published itself: found there byte for byte, an event needs no verification.
    let published: PublishedMovements
    let logger: Logger
    private let lastLogged = Atomic<Int64>(0)
    static let forged = Counter(label: "bazaar_kafka_events_refused_total", dimensions: [("reason", "forged")])
    static let unreadable = Counter(label: "bazaar_kafka_events_refused_total", dimensions: [("reason", "unreadable")])
    /// Movement events read back that this node published itself (`PublishedMovements`), and those verified.
    static let fromMemory = Counter(label: "bazaar_kafka_movement_events_read_total", dimensions: [("source", "memory")])
    static let verified = Counter(label: "bazaar_kafka_movement_events_read_total", dimensions: [("source", "verified")])

    public init(signer: MovementEventSigner, published: PublishedMovements = PublishedMovements(), logger: Logger) {
        self.signer = signer
        self.published = published
        self.logger = logger
    }

    /// `value`: the message's value as text, when the caller has made it already (each making checks the UTF-8 of
    /// the whole event again).
    func movement(in message: KafkaMessage, value: String? = nil) -> Movement? {
        // Its own event, byte for byte: what verification would answer, without the parse and the MAC.
        if let movement = published.movement(of: message), MovementEventSigner.isWithinContract(movement) {
            Self.fromMemory.increment()
            return movement
        }
        let value = value ?? message.valueString
        // Other events of the topic (reservations) are not movements: passed over, not counted as forged.
        if ReservationEvent.isOtherThanMovement(value) { return nil }
        switch signer.verify(value) {
        case .genuine(let movement):
            Self.verified.increment()
            return movement
        case .forged:
            Self.forged.increment()
            report("skipping a movement event not signed by this deployment (forged, or security.secret_key differs between nodes)", message)
        case .unreadable:
            Self.unreadable.increment()
            report("skipping an unreadable movement event", message)
        }
        return nil
    }

    /// Whether a reservation's, transfer's or purchase order's event on the topic was signed by this deployment
    /// (`MovementEventSigner.signedStockEvent`); one that was not is counted as forged and skipped.
    func isGenuineStockEvent(_ message: KafkaMessage, value: String) -> Bool {
        if signer.isGenuineStockEvent(value) { return true }
        Self.forged.increment()
        report("skipping a stock event not signed by this deployment (forged, from a release before they were signed, or security.secret_key differs between nodes)", message)
        return false
    }

    private func report(_ text: Logger.Message, _ message: KafkaMessage) {
        let now = WallClock.system.nowMillis()
        let last = lastLogged.load(ordering: .relaxed)
        guard now - last > 60_000, lastLogged.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        logger.warning(text, metadata: ["offset": "\(message.partition)/\(message.offset)"])
    }
}
