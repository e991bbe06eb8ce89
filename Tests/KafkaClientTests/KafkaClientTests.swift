import Foundation
import KafkaClient
import ServiceLifecycle
import Synchronization
import Testing

enum TestBroker {
    static let brokers = ProcessInfo.processInfo.environment["BAZAAR_TEST_KAFKA_BROKERS"]
}

@Suite(.enabled(if: TestBroker.brokers != nil, "needs BAZAAR_TEST_KAFKA_BROKERS (scripts/services/kafka.sh)"))
struct KafkaClientTests {
    @Test func producedMessagesAreConsumedOnceWithTheirKeysByAGroup() async throws {
        let brokers = TestBroker.brokers!
        let topic = "test-\(UUID().uuidString.prefix(8).lowercased())"
        try KafkaAdmin.createTopics(brokers: brokers, [(topic, 3)])
        let producer = try KafkaProducer(configuration: .producer(brokers: brokers))
        var reports: [KafkaDeliveryReport] = []
        try await withThrowingTaskGroup(of: KafkaDeliveryReport.self) { group in
            for i in 0..<100 {
                group.addTask { try await producer.send(topic: topic, key: Array("key-\(i % 7)".utf8), value: Array("message \(i)".utf8)) }
            }
            for try await report in group { reports.append(report) }
        }
        #expect(reports.count == 100 && reports.allSatisfy { $0.topic == topic && $0.offset >= 0 })
        #expect(Set(reports.map(\.partition)).count > 1, "keys spread over partitions")
        producer.shutdown()

        let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers, group: "test-group-\(UUID().uuidString.prefix(6))"),
                                         topics: [topic])
        let runner = Task { try await consumer.run() }
        var received: [String: String] = [:]
        var partitionsByKey: [String: Set<Int32>] = [:]
        let deadline = Date().addingTimeInterval(20)
        for await batch in consumer.batches {
            for message in batch.messages {
                #expect(received[message.valueString] == nil, "each message once")
                received[message.valueString] = message.keyString
                partitionsByKey[message.keyString ?? "", default: []].insert(message.partition)
            }
            batch.commit()
            if received.count >= 100 || Date() > deadline { break }
        }
        consumer.stop()
        try await runner.value
        #expect(received.count == 100)
        #expect(received["message 8"] == "key-1")
        #expect(partitionsByKey.values.allSatisfy { $0.count == 1 }, "one key, one partition (order per key)")
    }

    /// A member that joins while messages flow takes over partitions from the first one: between them they
    /// receive every message, each batch committed only after it was processed.
    @Test func aMemberJoiningMidStreamTakesOverPartitionsAndNothingIsMissed() async throws {
        let brokers = TestBroker.brokers!
        let topic = "test-join-\(UUID().uuidString.prefix(8).lowercased())"
        let groupID = "test-join-\(UUID().uuidString.prefix(6))"
        try KafkaAdmin.createTopics(brokers: brokers, [(topic, 8)])
        let tally = Tally()
        let started = Date()
        let producer = try KafkaProducer(configuration: .producer(brokers: brokers))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await Self.member(brokers: brokers, topic: topic, group: groupID, tally: tally, joinAfter: .zero) }
            group.addTask { try await Self.member(brokers: brokers, topic: topic, group: groupID, tally: tally, joinAfter: .seconds(5)) }
            for round in 0..<20 {  // about 10 s of messages, 100 at a time
                _ = try await producer.sendBatch((0..<100).map { i in
                    (topic, Array("key-\(i % 32)".utf8), Array("m\(round * 100 + i)".utf8))
                })
                try await Task.sleep(for: .milliseconds(500))
            }
            try await group.waitForAll()
        }
        producer.shutdown()
        let received = tally.seen.withLock { $0 }
        let missing = (0..<2000).filter { received["m\($0)"] == nil }
        #expect(missing.isEmpty, "\(missing.count) messages never received, e.g. \(missing.prefix(10))")
        // The lag is the age of the oldest message in process: measured (above 0), and never older than the messages
        // themselves. How small it stays is a matter of load (a benchmark's, not a test's).
        let lag = tally.lag.withLock { $0 }
        #expect(lag > 0 && lag <= Date().timeIntervalSince(started), "lag \(lag) s")
    }

    final class Tally: Sendable {
        let seen = Mutex<[String: Int]>([:])
        let lag = Mutex<Double>(0)
    }

    /// One member of the group: processes (30 ms a batch) and commits until 2,000 messages were seen between the members.
    static func member(brokers: String, topic: String, group: String, tally: Tally, joinAfter delay: Duration) async throws {
        try await Task.sleep(for: delay)
        let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers, group: group), topics: [topic], maxBatch: 100)
        let runner = Task { try await consumer.run() }
        // Stops this member once both together have seen everything (or after 30 s), batch or no batch.
        let watchdog = Task {
            let stopAt = Date().addingTimeInterval(30)
            while tally.seen.withLock({ $0.count }) < 2000, Date() < stopAt, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
            }
            consumer.stop()
        }
        for await batch in consumer.batches {
            try? await Task.sleep(for: .milliseconds(30))
            tally.seen.withLock { for message in batch.messages { $0[message.valueString, default: 0] += 1 } }
            let lag = consumer.lagSeconds(nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
            tally.lag.withLock { $0 = max($0, lag) }
            batch.commit()
        }
        watchdog.cancel()
        try await runner.value
    }

    /// A producer let go without `shutdown()` (a start that failed after it was made) keeps its callbacks' target
    /// alive: the broker's errors (nothing listens at port 1) reach it, not freed memory. Before, this crashed the
    /// process (SIGSEGV in `rd_kafka_poll_cb`).
    @Test func aProducerLetGoWithoutShutdownLeavesNothingDanglingForItsCallbacks() async throws {
        let errors = Tally()
        do {
            _ = try KafkaProducer(configuration: .producer(brokers: "127.0.0.1:1")) { _ in errors.seen.withLock { $0["error", default: 0] += 1 } }
        }
        try await Task.sleep(for: .seconds(2))
        #expect(errors.seen.withLock { $0["error"] ?? 0 } > 0, "the broker's errors still reach the sink")
    }

    @Test func aBadPropertyIsATypedError() {
        #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: KafkaConfiguration(brokers: "127.0.0.1:1", ["no.such.property": "x"]))
        }
    }
}
