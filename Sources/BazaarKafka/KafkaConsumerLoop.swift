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
        try await run(consumer, topic: topic, role: role, clock: clock, batches: consumer.batches.map { ($0, ()) }) { batch, _ in
            await process(batch)
        }
    }

    private static func run<Batches: AsyncSequence, Prepared>(
        _ consumer: KafkaConsumer, topic: String, role: String, clock: WallClock,
        batches: Batches, process: @escaping @Sendable (KafkaBatch, Prepared) async -> Bool
    ) async throws where Batches.Element == (KafkaBatch, Prepared), Batches.Failure == Never {
        let lag = Gauge(label: "bazaar_kafka_consumer_lag_seconds", dimensions: [("topic", topic), ("consumer", role)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumer.run() }
            group.addTask {
                while !Task.isCancelled {
                    lag.record(consumer.lagSeconds(nowMillis: clock.nowMillis()))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            for await (batch, prepared) in batches {
                guard await process(batch, prepared) else { break }
                batch.commit()
            }
            // The consumer has stopped (graceful shutdown), or a batch was left unfinished: stop it (it leaves the
            // group with what was committed) and end the lag recorder too.
            consumer.stop()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// `run` in two stages: each batch is `prepare`d (the work that does not depend on the batches before it)
    /// while the one before it is `process`ed, then processed and committed in the order polled. The stages overlap
    /// when the consumer was made with a lookahead of 1 (with 0 they take turns). A batch prepared and never
    /// processed is never committed: it is delivered again. Once the consumer is stopping, no batch is begun: its
    /// offsets could no longer be stored, and the group's next member gets it anyway.
    static func run<Prepared: Sendable>(_ consumer: KafkaConsumer, topic: String, role: String, clock: WallClock = .system,
                                        prepare: @escaping @Sendable (KafkaBatch) async -> Prepared,
                                        process: @escaping @Sendable (KafkaBatch, Prepared) async -> Bool) async throws {
        let (prepared, preparedBatches) = AsyncStream.makeStream(of: (KafkaBatch, Prepared).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The consumer's lookahead bounds how far this stage runs ahead of the processing.
            group.addTask {
                for await batch in consumer.batches { preparedBatches.yield((batch, await prepare(batch))) }
                preparedBatches.finish()
            }
            try await run(consumer, topic: topic, role: role, clock: clock, batches: prepared) { batch, prepared in
                consumer.isStopping ? false : await process(batch, prepared)
            }
            preparedBatches.finish()
            group.cancelAll()
        }
    }
}
