import BazaarCore
import BazaarDomain
import BazaarHTTP
import KafkaClient
import Logging
import ServiceLifecycle
import Synchronization

/// The outbox relay's publisher when Kafka is configured: every event to its topic (`bazaar.stock-movements`,
/// `bazaar.stock-alerts`), keyed by store so that one store's events stay in order on one partition, and
/// accepted only on positive delivery reports; then to this node's in-process bus (its intelligence consumer and
/// webhook dispatcher).
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
        try await local.publish(events)
    }

    /// nil when healthy; else how long events have been waiting for the broker.
    func problem() -> String? {
        let since = publishingSince.load(ordering: .relaxed)
        guard since > 0, clock.nowMillis() - since > 5000 else { return nil }
        return "the broker has not acknowledged events for \((clock.nowMillis() - since) / 1000) s; the outbox holds them"
    }
}

/// Takes stock movements from `bazaar.stock-commands` in batches (consumer group `kafka.consumer_group`: nodes share
/// the partitions). Every command of a batch goes through `StockService.write` at once, so the group commit applies the
/// batch in as few transactions as it can; each is idempotent by its `id` (within the consumer group). A command that cannot be applied goes
/// to `bazaar.stock-commands.rejected` with the original value and a problem object; the batch's offsets are
/// committed only after every command was applied or rejected.
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
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumer.run() }
            for await batch in consumer.batches {
                await apply(batch)
                batch.commit()
            }
            try await group.waitForAll()
        }
    }

    /// What became of one command.
    enum Outcome: Sendable {
        case applied
        /// Refused: the problem object (as an HTTP client would get it) goes to `.rejected`.
        case rejected(problemJSON: String)
        /// The database could not be reached: not the command's fault, so it is retried, never rejected.
        case unavailable
    }

    func apply(_ batch: KafkaBatch) async {
        var outcomes: [(KafkaMessage, Outcome)] = await withTaskGroup(of: (KafkaMessage, Outcome).self) { group in
            for message in batch.messages { group.addTask { (message, await apply(message)) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        // Keep the batch (its offsets stay uncommitted) until the database is back.
        for index in outcomes.indices {
            while case .unavailable = outcomes[index].1, !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                outcomes[index].1 = await apply(outcomes[index].0)
            }
        }
        var toReject: [(topic: String, key: [UInt8]?, value: [UInt8])] = []
        for case (let message, .rejected(let problem)) in outcomes {
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
    }

    func apply(_ message: KafkaMessage) async -> Outcome {
        do {
            let (id, command) = try CommandMessage.decode(message.value)
            _ = try await stock.write([command], actor: "kafka:\(Self.topic)", idempotencyKey: id, scope: consumerGroup)
            return .applied
        } catch is StorageUnavailable {
            return .unavailable
        } catch {
            return .rejected(problemJSON: CommandMessage.problemJSON(for: error))
        }
    }
}
