import BazaarCore
import BazaarDomain
import BazaarHTTP
import KafkaClient
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
final class KafkaEventPublisher: EventPublisher {
    let producer: KafkaProducer
    let local: InProcessEventBus
    /// When the publish in progress started (0: none), for the health check.
    private let publishingSince = Atomic<Int64>(0)
    let clock: WallClock

    init(producer: KafkaProducer, local: InProcessEventBus, clock: WallClock = .system) {
        self.producer = producer
        self.local = local
        self.clock = clock
    }

    func publish(_ events: [OutboundEvent]) async throws {
        publishingSince.store(clock.nowMillis(), ordering: .relaxed)
        defer { publishingSince.store(0, ordering: .relaxed) }
        _ = try await producer.sendBatch(events.map { (topic: $0.topic, key: Array($0.key.utf8), value: Array($0.payload.utf8)) })
        try await local.publish(events.filter { $0.topic != MovementEvent.topic })
    }

    /// nil when healthy; else how long events have been waiting for the broker.
    func problem() -> String? {
        let since = publishingSince.load(ordering: .relaxed)
        guard since > 0, clock.nowMillis() - since > 5000 else { return nil }
        return "the broker has not acknowledged events for \((clock.nowMillis() - since) / 1000) s; the outbox holds them"
    }
}

/// Takes stock movements from `bazaar.stock-commands` in batches (consumer group `kafka.consumer_group`: nodes share
/// the partitions). A polled batch is applied through `StockService.writeInOrder`: in the order of its partitions,
/// in one transaction, each command idempotent by its `id` (within the consumer group). A command that cannot be
/// applied goes to `bazaar.stock-commands.rejected` with the original value and a problem object; the batch's
/// offsets are committed only after every command was applied or rejected.
struct CommandIngestion: Service {
    static let topic = "bazaar.stock-commands"
    static let rejectedTopic = "bazaar.stock-commands.rejected"

    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let stock: StockService
    /// The consumer group; also the scope of the commands' idempotency keys.
    let consumerGroup: String
    let logger: Logger

    func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: Self.topic) { batch in await apply(batch) }
    }

    /// What became of one command.
    enum Outcome: Sendable {
        case applied
        /// Refused: the problem object (as an HTTP client would get it) goes to `.rejected`.
        case rejected(problemJSON: String)
        /// The database could not be reached: not the command's fault, so it is retried, never rejected.
        case unavailable

        var isUnavailable: Bool {
            if case .unavailable = self { true } else { false }
        }
    }

    /// Applies or rejects every command of the batch; false if cancelled before all of them were settled (the batch
    /// must then not be committed: its commands are delivered again, to this node or another).
    func apply(_ batch: KafkaBatch) async -> Bool {
        var outcomes = await apply(batch.messages)
        // Keep the batch (its offsets stay uncommitted) until the database is back; retry in the same order.
        while !Task.isCancelled {
            let waiting = outcomes.indices.filter { outcomes[$0].isUnavailable }
            if waiting.isEmpty { break }
            try? await Task.sleep(for: .seconds(1))
            for (index, outcome) in zip(waiting, await apply(waiting.map { batch.messages[$0] })) { outcomes[index] = outcome }
        }
        var toReject: [(topic: String, key: [UInt8]?, value: [UInt8])] = []
        for case (let message, .rejected(let problem)) in zip(batch.messages, outcomes) {
            let value = "{\"value\":\(JSON.quoted(String(decoding: message.value, as: UTF8.self))),\"problem\":\(problem)}"
            toReject.append((Self.rejectedTopic, message.key, Array(value.utf8)))
        }
        while !toReject.isEmpty, !Task.isCancelled {
            do {
                _ = try await producer.sendBatch(toReject)
                for _ in toReject { BazaarMetrics.rejected(reason: "kafka-command") }
                toReject = []
            } catch {
                logger.warning("could not publish rejected commands; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return toReject.isEmpty && !outcomes.contains(where: \.isUnavailable)
    }

    /// The messages' commands: each partition's in its order, in one transaction; the partitions' transactions run
    /// side by side (Kafka orders nothing across partitions, and with commands keyed by store their stock rows
    /// differ; if they do not, row locks serialize them).
    func apply(_ messages: [KafkaMessage]) async -> [Outcome] {
        var outcomes = [Outcome](repeating: .applied, count: messages.count)
        var byPartition: [String: [(index: Int, id: String, command: MovementCommand)]] = [:]
        for (index, message) in messages.enumerated() {
            do {
                let (id, command) = try CommandMessage.decode(message.value)
                byPartition["\(message.topic)/\(message.partition)", default: []].append((index, id, command))
            } catch {
                outcomes[index] = .rejected(problemJSON: CommandMessage.problemJSON(for: error))
            }
        }
        let settled = await withTaskGroup(of: [(index: Int, outcome: Outcome)].self) { group in
            for commands in byPartition.values {
                group.addTask {
                    let results = await stock.writeInOrder(commands.map { ([$0.command], $0.id) }, actor: "kafka:\(Self.topic)", scope: consumerGroup)
                    return zip(commands, results).map { entry, result in
                        switch result {
                        case .success: (entry.index, .applied)
                        case .failure(let error) where error is StorageUnavailable: (entry.index, .unavailable)
                        case .failure(let error): (entry.index, .rejected(problemJSON: CommandMessage.problemJSON(for: error)))
                        }
                    }
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        for (index, outcome) in settled { outcomes[index] = outcome }
        return outcomes
    }
}

/// The loop every Kafka-fed service runs: each polled batch processed, then its offsets committed; the consumer's
/// lag recorded each second as `bazaar_kafka_consumer_lag_seconds{topic}`. `process` returns false when it could not
/// finish a batch (cancelled): the batch is then left uncommitted and the consumer stops, so it is delivered again.
enum KafkaConsumerLoop {
    static func run(_ consumer: KafkaConsumer, topic: String, clock: WallClock = .system,
                    process: @escaping @Sendable (KafkaBatch) async -> Bool) async throws {
        let lag = Gauge(label: "bazaar_kafka_consumer_lag_seconds", dimensions: [("topic", topic)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumer.run() }
            group.addTask {
                while !Task.isCancelled {
                    lag.record(consumer.lagSeconds(nowMillis: clock.nowMillis()))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            for await batch in consumer.batches {
                guard await process(batch) else { break }
                batch.commit()
            }
            // The consumer has stopped (graceful shutdown), or a batch was left unfinished: stop it (it leaves the
            // group with what was committed) and end the lag recorder too.
            consumer.stop()
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

/// `bazaar.stock-movements` into this node's stock intelligence, in the consumer group `<kafka.consumer_group>.intelligence`:
/// the nodes share the partitions, so each store's movements are evaluated by one node, in order. A movement seen
/// twice (after a rebalance) is harmless: evaluation reads the thresholds and open alerts, it counts nothing.
struct MovementIntelligenceConsumer: Service {
    let consumer: KafkaConsumer
    let intelligence: IntelligenceService
    let logger: Logger

    func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: MovementEvent.topic) { batch in
            for message in batch.messages {
                guard let movement = Movement(cloudEventJSON: message.valueString) else {
                    logger.warning("skipping an unreadable movement event", metadata: ["offset": "\(message.partition)/\(message.offset)"])
                    continue
                }
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
struct MovementCacheCoherence: Service {
    let consumer: KafkaConsumer
    let cache: any StockCache

    func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: MovementEvent.topic) { batch in
            for message in batch.messages {
                guard let movement = Movement(cloudEventJSON: message.valueString) else { continue }
                await cache.offer(StockKey(storeID: movement.storeID, productID: movement.productID), movement.level)
            }
            return true
        }
    }
}
