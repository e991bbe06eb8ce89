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
    /// Signs movement events, so that nodes act only on events this deployment produced.
    let signer: MovementEventSigner
    /// When the publish in progress started (0: none), for the health check.
    private let publishingSince = Atomic<Int64>(0)
    let clock: WallClock

    init(producer: KafkaProducer, local: InProcessEventBus, signer: MovementEventSigner, clock: WallClock = .system) {
        self.producer = producer
        self.local = local
        self.signer = signer
        self.clock = clock
    }

    func publish(_ events: [OutboundEvent]) async throws {
        publishingSince.store(clock.nowMillis(), ordering: .relaxed)
        defer { publishingSince.store(0, ordering: .relaxed) }
        _ = try await producer.sendBatch(events.map { event in
            var payload = event.payload
            if event.topic == MovementEvent.topic, let movement = event.movement ?? Movement(cloudEventJSON: event.payload) {
                payload = signer.signedCloudEvent(movement)
            }
            return (topic: event.topic, key: Array(event.key.utf8), value: Array(payload.utf8))
        })
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
/// in one transaction, each command idempotent by its `id` within `IdempotencyScope.commands(topic:)` (not the
/// group's name, which may change). A command that cannot be applied goes to `bazaar.stock-commands.rejected` with
/// (the start of) the original value and a problem object; the batch's offsets are committed only after every
/// command was applied or rejected.
struct CommandIngestion: Service {
    static let topic = "bazaar.stock-commands"
    static let rejectedTopic = "bazaar.stock-commands.rejected"
    static let idempotencyScope = IdempotencyScope.commands(topic: topic)
    /// How much of a refused command's value is echoed into `.rejected`: enough to find it, never enough to make the
    /// rejection itself too large to publish (which would stall the partition).
    static let maxEchoedBytes = 4096

    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let stock: StockService
    /// Named in each rejection (which deployment refused it); not the idempotency scope.
    let consumerGroup: String
    /// Commands older than this (by their Kafka timestamp) are refused: their ids may have been forgotten, and
    /// applying them could apply them twice (`kafka.command_replay_window_hours`).
    let replayWindowMillis: Int64
    let clock: WallClock
    let logger: Logger

    init(consumer: KafkaConsumer, producer: KafkaProducer, stock: StockService, consumerGroup: String, replayWindowMillis: Int64,
         clock: WallClock = .system, logger: Logger) {
        self.consumer = consumer
        self.producer = producer
        self.stock = stock
        self.consumerGroup = consumerGroup
        self.replayWindowMillis = replayWindowMillis
        self.clock = clock
        self.logger = logger
    }

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
            toReject.append((Self.rejectedTopic, message.key, Array(Self.rejection(of: message.value, problem: problem, group: consumerGroup).utf8)))
        }
        // Only what failed is sent again: a rejection already delivered is not duplicated by a retry.
        var attempt = 0
        while !toReject.isEmpty, !Task.isCancelled {
            let results = await producer.sendBatchSettled(toReject)
            let delivered = results.filter { (try? $0.get()) != nil }.count
            for _ in 0..<delivered { BazaarMetrics.rejected(reason: "kafka-command") }
            let failures = zip(toReject, results).compactMap { message, result -> ((topic: String, key: [UInt8]?, value: [UInt8]), KafkaError)? in
                if case .failure(let error) = result { (message, error) } else { nil }
            }
            toReject = failures.map(\.0)
            if let (_, error) = failures.first {
                attempt += 1
                logger.warning("could not publish rejected commands; retrying",
                               metadata: ["error": "\(error)", "failed": "\(failures.count)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(min(5000, 100 << min(attempt, 6))))
            }
        }
        return toReject.isEmpty && !outcomes.contains(where: \.isUnavailable)
    }

    /// The `.rejected` value: `{"value": <the command as text, cut to maxEchoedBytes>, "value_bytes": n,
    /// "value_truncated": bool, "group": <the consumer group that refused it>, "problem": {...}}`. Bytes that are not
    /// UTF-8 become U+FFFD.
    static func rejection(of value: [UInt8], problem: String, group: String) -> String {
        let truncated = value.count > maxEchoedBytes
        let echoed = String(decoding: truncated ? value[..<maxEchoedBytes] : value[...], as: UTF8.self)
        return "{\"value\":\(JSON.quoted(echoed)),\"value_bytes\":\(value.count),\"value_truncated\":\(truncated),\"group\":\(JSON.quoted(group)),\"problem\":\(problem)}"
    }

    /// The messages' commands: each partition's in its order, in one transaction; the partitions' transactions run
    /// side by side (Kafka orders nothing across partitions, and with commands keyed by store their stock rows
    /// differ; if they do not, row locks serialize them).
    func apply(_ messages: [KafkaMessage]) async -> [Outcome] {
        var outcomes = [Outcome](repeating: .applied, count: messages.count)
        var byPartition: [String: [(index: Int, id: String, command: MovementCommand)]] = [:]
        let oldest = clock.nowMillis() - replayWindowMillis
        for (index, message) in messages.enumerated() {
            if let timestamp = message.timestampMillis, timestamp > 0, timestamp < oldest {
                outcomes[index] = .rejected(problemJSON: CommandMessage.problemJSON(for: DomainError.invalid(
                    field: "timestamp",
                    message: "the command is older than the replay window (kafka.command_replay_window_hours); it may have been applied already, so it is not applied again: send a new command with a new id if it is still wanted")))
                continue
            }
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
                    let results = await stock.writeInOrder(commands.map { ([$0.command], $0.id) }, actor: "kafka:\(Self.topic)", scope: Self.idempotencyScope)
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
    let verifier: VerifiedMovements
    let logger: Logger

    func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: MovementEvent.topic) { batch in
            for message in batch.messages {
                guard let movement = verifier.movement(in: message) else { continue }
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
    let verifier: VerifiedMovements

    func run() async throws {
        try await KafkaConsumerLoop.run(consumer, topic: MovementEvent.topic) { batch in
            for message in batch.messages {
                // A reservation's event changed the row's reserved stock (its revision in `bazaarrevision`).
                if let change = ReservationEvent.stockChange(in: message.valueString) {
                    await cache.invalidate(StockKey(storeID: change.storeID, productID: change.productID), minimumVersion: 0,
                                           minimumRevision: change.revision)
                    continue
                }
                if let change = TransferEvent.stockChange(in: message.valueString) {
                    await cache.invalidate(StockKey(storeID: change.storeID, productID: change.productID), minimumVersion: 0,
                                           minimumRevision: change.revision)
                    continue
                }
                if let change = PurchaseOrderEvent.stockChanges(in: message.valueString) {
                    for row in change.rows {
                        await cache.invalidate(StockKey(storeID: change.storeID, productID: row.productID), minimumVersion: 0,
                                               minimumRevision: row.revision)
                    }
                    continue
                }
                guard let movement = verifier.movement(in: message) else { continue }
                // The event knows the version, not the row's inventory states: the cached value stops answering until
                // a read of this version or newer replaces it (unless it already is that new).
                await cache.invalidate(StockKey(storeID: movement.storeID, productID: movement.productID), minimumVersion: movement.version,
                                       minimumRevision: movement.version)
            }
            return true
        }
    }
}

/// The movements of `bazaar.stock-movements` that this deployment produced: each event's signature is checked before
/// it touches a cache or an alert; a forged or unreadable one is skipped, counted in
/// `bazaar_kafka_events_refused_total{reason}` and logged (once a minute at most, with its position).
final class VerifiedMovements: Sendable {
    let signer: MovementEventSigner
    let logger: Logger
    private let lastLogged = Atomic<Int64>(0)
    static let forged = Counter(label: "bazaar_kafka_events_refused_total", dimensions: [("reason", "forged")])
    static let unreadable = Counter(label: "bazaar_kafka_events_refused_total", dimensions: [("reason", "unreadable")])

    init(signer: MovementEventSigner, logger: Logger) {
        self.signer = signer
        self.logger = logger
    }

    func movement(in message: KafkaMessage) -> Movement? {
        let value = message.valueString
        // Other events of the topic (reservations) are not movements: passed over, not counted as forged.
        if ReservationEvent.isOtherThanMovement(value) { return nil }
        switch signer.verify(value) {
        case .genuine(let movement):
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

    private func report(_ text: Logger.Message, _ message: KafkaMessage) {
        let now = WallClock.system.nowMillis()
        let last = lastLogged.load(ordering: .relaxed)
        guard now - last > 60_000, lastLogged.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        logger.warning(text, metadata: ["offset": "\(message.partition)/\(message.offset)"])
    }
}
