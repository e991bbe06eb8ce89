import BazaarCore
import BazaarDomain
import KafkaClient
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The loop every Kafka-fed service runs: each polled batch processed, then its offsets committed; the consumer's
/// lag recorded each second as `bazaar_kafka_consumer_lag_seconds{topic, consumer}` (`consumer`: what reads it:
/// `ingestion`, `alerts`, `cache`; without Redis two consumers of a node read the movement topic). `process` returns false when it could not
/// finish a batch (cancelled): the batch is then left uncommitted and the consumer stops, so it is delivered again.
enum KafkaConsumerLoop {
    static func run(_ consumer: KafkaConsumer, topic: String, role: String, clock: WallClock = .system,
                    process: @escaping @Sendable (KafkaBatch) async -> Bool) async throws {
        let lag = Gauge(label: "bazaar_kafka_consumer_lag_seconds", dimensions: [("topic", topic), ("consumer", role)])
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
