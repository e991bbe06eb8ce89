import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import KafkaClient
import Logging
import Synchronization
import TestShell
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
        try await startAtTheEnd(configuration.kafkaConsumerGroup)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try await BazaarSystem.start(configuration: configuration, logger: logger)
    }

    /// Two nodes on one database sharing an ingestion group of their own (`prefix-<random>`): they share the command
    /// topic's partitions.
    static func twoNodes(_ database: String, groupPrefix prefix: String) async throws -> (BazaarSystem, BazaarSystem) {
        let group = "\(prefix)-\(UUID().uuidString.prefix(8))"
        return (try await system(database, group: group), try await system(database, group: group))
    }

    private static let startedGroups = Mutex<Set<String>>([])

    /// A new ingestion group starts at the end of `bazaar.stock-commands` (its offsets committed there before its
    /// first node starts): the topic holds every earlier test's commands, which a group starting at the earliest
    /// would read and refuse again, one by one, in every test. Once per group: a second node of the group joins
    /// where the first one is.
    static func startAtTheEnd(_ group: String) async throws {
        guard let brokers, startedGroups.withLock({ $0.insert(group).inserted }) else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".test-services/kafka/venv/bin/python").path
        let helper = root.appendingPathComponent("scripts/kafka-commands.py").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("start-at-end-\(group).log").path
        let status = await Shell.runOffThePool("timeout 60 '\(python)' '\(helper)' start-at-end '\(brokers)' '\(group)' >'\(log)' 2>&1")
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestFailure("kafka-commands.py start-at-end failed (\(status)) for \(group): \(output.suffix(500))")
        }
        try? FileManager.default.removeItem(atPath: log)
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
