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

    func apply(_ batch: KafkaBatch) async {
        let rejected: [(KafkaMessage, String)] = await withTaskGroup(of: (KafkaMessage, String)?.self) { group in
            for message in batch.messages {
                group.addTask {
                    do {
                        let (id, command) = try CommandMessage.decode(message.value)
                        _ = try await stock.write([command], actor: "kafka:\(Self.topic)", idempotencyKey: id, scope: consumerGroup)
                        return nil
                    } catch let error as StorageUnavailable {
                        // Not the command's fault: retried below, never rejected.
                        return (message, "retry:\(error)")
                    } catch {
                        return (message, CommandMessage.problemJSON(for: error))
                    }
                }
            }
            return await group.reduce(into: []) { if let item = $1 { $0.append(item) } }
        }
        var toReject: [(topic: String, key: [UInt8]?, value: [UInt8])] = []
        for (message, problem) in rejected {
            if problem.hasPrefix("retry:") {
                await retryUntilApplied(message)
                continue
            }
            let original = String(decoding: message.value, as: UTF8.self)
            let value = "{\"value\":\(JSON.quoted(original)),\"problem\":\(problem)}"
            toReject.append((Self.rejectedTopic, message.key, Array(value.utf8)))
        }
        while !toReject.isEmpty {
            do {
                _ = try await producer.sendBatch(toReject)
                BazaarMetrics.rejected(reason: "kafka-command")
                toReject = []
            } catch {
                logger.warning("could not publish rejected commands; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The database is unavailable: keep the batch (its offsets stay uncommitted) until it comes back.
    private func retryUntilApplied(_ message: KafkaMessage) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            do {
                let (id, command) = try CommandMessage.decode(message.value)
                _ = try await stock.write([command], actor: "kafka:\(Self.topic)", idempotencyKey: id, scope: consumerGroup)
                return
            } catch is StorageUnavailable {
                continue
            } catch {
                return
            }
        }
    }
}
