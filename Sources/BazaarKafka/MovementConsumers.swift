public import BazaarCore
import BazaarDomain
public import KafkaClient
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// `bazaar.stock-movements` into this node's stock intelligence, in the consumer group `<kafka.consumer_group>.intelligence`:
/// the nodes share the partitions, so each store's movements are evaluated by one node, in order. A movement seen
/// twice (after a rebalance) is harmless: evaluation reads the thresholds and open alerts, it counts nothing.
public struct MovementIntelligenceConsumer: Service {
    let consumer: KafkaConsumer
    let intelligence: IntelligenceService
    let verifier: VerifiedMovements
    let logger: Logger

    public init(consumer: KafkaConsumer, intelligence: IntelligenceService, verifier: VerifiedMovements, logger: Logger) {
        self.consumer = consumer
        self.intelligence = intelligence
        self.verifier = verifier
        self.logger = logger
    }

    public func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: MovementEvent.topic, role: "alerts") { batch in
            let movements = batch.messages.compactMap { verifier.movement(in: $0) }
            do {
                try await intelligence.prepareEvaluation(of: movements)
            } catch {
                // Each evaluation then reads what it needs itself.
                logger.warning("reading for a batch of alert evaluations failed", metadata: ["movements": "\(movements.count)", "error": "\(error)"])
            }
            for movement in movements {
                // Stopping (graceful shutdown): the batch stays uncommitted and is delivered again, not skipped.
                if Task.isCancelled { return false }
                do {
                    _ = try await intelligence.evaluate(movement)
                } catch {
                    logger.warning("alert evaluation failed", metadata: ["movement_id": "\(movement.movementID)", "error": "\(error)"])
                }
            }
            return true
        }
    }
}

/// `bazaar.stock-movements` into this node's in-process cache, in a consumer group of this node's own that starts at
/// the newest event: every node sees every movement, so a level written through another node replaces the cached
/// one (the cache takes only newer versions, invariant 4). With Redis the caches are kept coherent by Redis itself.
public struct MovementCacheCoherence: Service {
    let consumer: KafkaConsumer
    let cache: any StockCache
    let verifier: VerifiedMovements

    public init(consumer: KafkaConsumer, cache: any StockCache, verifier: VerifiedMovements) {
        self.consumer = consumer
        self.cache = cache
        self.verifier = verifier
    }

    public func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: MovementEvent.topic, role: "cache") { batch in
            for message in batch.messages {
                let value = message.valueString  // once: each conversion checks the UTF-8 of the whole event
                // A reservation's, transfer's or order's event is read only once this deployment's signature is
                // verified; anything else is a movement or nothing (the parsers below never see an unverified event:
                // one that names a movement's type somewhere inside would otherwise pass as a movement here).
                if ReservationEvent.isOtherThanMovement(value) {
                    guard verifier.isGenuineStockEvent(message, value: value) else { continue }
                    await invalidate(afterStockEvent: value)
                    continue
                }
                guard let movement = verifier.movement(in: message, value: value) else { continue }
                // The event knows the version, not the row's inventory states: the cached value stops answering until
                // a read of this version or newer replaces it (unless it already is that new).
                await cache.invalidate(StockKey(storeID: movement.storeID, productID: movement.productID), minimumVersion: movement.version,
                                       minimumRevision: movement.version)
            }
            return true
        }
    }

    /// A verified reservation's, transfer's or purchase order's event changed rows' inventory states (their revisions
    /// in `bazaarrevision`): each cached level older than that stops answering until a newer read replaces it.
    private func invalidate(afterStockEvent value: String) async {
        if let change = ReservationEvent.stockChange(in: value) ?? TransferEvent.stockChange(in: value) {
            await cache.invalidate(StockKey(storeID: change.storeID, productID: change.productID), minimumVersion: 0,
                                   minimumRevision: change.revision)
        } else if let change = PurchaseOrderEvent.stockChanges(in: value) {
            for row in change.rows {
                await cache.invalidate(StockKey(storeID: change.storeID, productID: row.productID), minimumVersion: 0,
                                       minimumRevision: row.revision)
            }
        }
    }
}
