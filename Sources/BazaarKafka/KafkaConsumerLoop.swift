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

    /// `run` in stages: each batch is `prepare`d as it is polled (work that does not depend on the batches before
    /// it), then processed at once, beside the batch before it (at most two at a time: the consumer's lookahead of 1
    /// polls no further), and committed in the order polled. `process` keeps each partition's order with the batch's
    /// `PartitionTurns`: it waits for its turn on a partition before writing there and settles it once done, so one
    /// partition's next batch can begin while another partition's commands of the batch before are still being
    /// written. Unsettled parts are settled with `process`'s answer; a batch whose `process` answers false is not
    /// committed and stops the loop. Once the consumer is stopping, no batch is begun: its offsets could no longer be
    /// stored, and the group's next member gets it anyway.
    static func runOverlapped<Prepared: Sendable>(_ consumer: KafkaConsumer, topic: String, role: String, clock: WallClock = .system,
                                                  prepare: @escaping @Sendable (KafkaBatch) async -> Prepared,
                                                  process: @escaping @Sendable (KafkaBatch, Prepared, PartitionTurns) async -> Bool) async throws {
        let (prepared, preparedBatches) = AsyncStream.makeStream(of: (KafkaBatch, Prepared).self)
        let (begun, begunBatches) = AsyncStream.makeStream(of: (KafkaBatch, Settlement).self)
        // Discarding: one child a batch for the life of the service, none kept once done.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await batch in consumer.batches { preparedBatches.yield((batch, await prepare(batch))) }
                preparedBatches.finish()
            }
            // Commits in the order polled (and runs the consumer and its lag gauge); stops the consumer at the end.
            group.addTask {
                try await run(consumer, topic: topic, role: role, clock: clock, batches: begun) { _, done in await done.value() }
                preparedBatches.finish()
            }
            var lanes = PartitionLanes()
            for await (batch, prepared) in prepared {
                if consumer.isStopping { break }
                let turns = lanes.turns(for: batch)
                let done = Settlement()
                group.addTask {
                    let finished = await process(batch, prepared, turns)
                    turns.settleAll(finished)
                    done.settle(finished)
                }
                begunBatches.yield((batch, done))
            }
            begunBatches.finish()
        }
    }
}
