public import BazaarDomain
import Foundation
public import Logging
public import ServiceLifecycle

/// Feeds committed movements from the event stream to the intelligence service, in commit order.
/// The embedded default reads the in-process bus; with Kafka (issue 5) the same events arrive from
/// `bazaar.stock-movements` through the node's consumer group.
public struct IntelligenceConsumer<Events: AsyncSequence & Sendable>: Service where Events.Element == OutboundEvent, Events.Failure == Never {
    let events: Events
    let intelligence: IntelligenceService
    let logger: Logger

    public init(events: Events, intelligence: IntelligenceService, logger: Logger) {
        self.events = events
        self.intelligence = intelligence
        self.logger = logger
    }

    public func run() async throws {
        for await event in events.cancelOnGracefulShutdown() {
            if event.movement == nil, ReservationEvent.isOtherThanMovement(event.payload) { continue }  // a reservation's event
            guard let movement = event.movement ?? Movement(cloudEventJSON: event.payload) else {
                logger.warning("skipping an unreadable movement event", metadata: ["event_id": "\(event.id)"])
                continue
            }
            do {
                try await intelligence.evaluate(movement)
            } catch {
                logger.warning("alert evaluation failed", metadata: ["movement_id": "\(movement.movementID)", "error": "\(error)"])
            }
        }
    }
}

extension Movement {
    /// Reads back the `data` of a `bazaar.stock.movement` CloudEvent (DESIGN.md, `bazaar.stock-movements`).
    public init?(cloudEventJSON: String) {
        guard let data = JSONNode.parse(cloudEventJSON)?["data"] else { return nil }
        self.init(cloudEventData: data)
    }

    /// Reads the `data` object of a movement CloudEvent.
    public init?(cloudEventData data: JSONNode) {
        guard let id = data["movement_id"]?.string, let store = data["store_id"]?.string, let product = data["product_id"]?.string,
            let delta = data["delta"]?.int, let before = data["quantity_before"]?.int, let after = data["quantity_after"]?.int,
            let version = data["version"]?.int, let reason = data["reason"]?.string.flatMap(MovementReason.init(rawValue:)),
            let actor = data["actor"]?.string, let at = data["at"]?.string.flatMap(RFC3339.parse)
        else { return nil }
        self.init(sequence: 0, movementID: id, storeID: store, productID: product, delta: delta, quantityBefore: before, quantityAfter: after,
                  version: version, reason: reason, reference: data["reference"]?.string, actor: actor, atMillis: at,
                  recordedAtMillis: data["recorded_at"]?.string.flatMap(RFC3339.parse) ?? at)
    }
}
