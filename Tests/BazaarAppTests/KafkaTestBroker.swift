import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import KafkaClient
import Logging
import Testing

/// The test broker (`scripts/services/kafka.sh`) and nodes that use it.
enum KafkaTestBroker {
    static let brokers = Backend.kafkaBrokers

    /// `nearMaxAgeMillis`: how long the node's in-process cache answers a level without the movement topic
    /// (`cache.near_max_age_ms`, 5 s by default).
    static func system(_ database: String, group: String? = nil, nearMaxAgeMillis: Int? = nil) async throws -> BazaarSystem {
        var configuration = Harness.configuration(database)
        if let nearMaxAgeMillis { configuration.cacheNearMaxAgeMillis = nearMaxAgeMillis }
        configuration.kafkaBrokers = brokers
        // Tests share the broker: one ingestion group per test database.
        configuration.kafkaConsumerGroup = group ?? "test-ingest-\(UInt(bitPattern: database.hashValue))"
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try await BazaarSystem.start(configuration: configuration, logger: logger)
    }

    /// Reads `topic` from the start with a group of its own until `done` says enough (or `seconds` pass: the topics
    /// hold every earlier test's messages, and `.rejected` every group's refusals of them).
    static func read(_ topic: String, seconds: Double = 90, until done: ([KafkaMessage]) -> Bool) async throws -> [KafkaMessage] {
        let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers!, group: "reader-\(UUID().uuidString.prefix(8))"), topics: [topic])
        let runner = Task { try await consumer.run() }
        var messages: [KafkaMessage] = []
        let deadline = Date().addingTimeInterval(seconds)
        let watchdog = Task {
            while Date() < deadline, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(200)) }
            consumer.stop()
        }
        for await batch in consumer.batches {
            messages += batch.messages
            batch.commit()
            if done(messages) { break }
        }
        watchdog.cancel()
        consumer.stop()
        try await runner.value
        return messages
    }
}
