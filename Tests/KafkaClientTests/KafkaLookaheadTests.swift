import Foundation
import KafkaClient
import Synchronization
import Testing

/// `KafkaConsumer(lookahead:)`: how many batches a consumer polls beyond the oldest uncommitted one. The ingestion
/// prepares the next batch while it writes the current one (lookahead 1); nothing polled ahead is committed by it,
/// and no more than that is ever polled.
@Suite(.enabled(if: TestBroker.brokers != nil, "needs BAZAAR_TEST_KAFKA_BROKERS (scripts/services/kafka.sh)"))
struct KafkaLookaheadTests {
    /// The batches a consumer delivered, as they arrive (read by the test while it decides what to commit).
    final class Deliveries: Sendable {
        let batches = Mutex<[KafkaBatch]>([])

        /// Waits up to `seconds` for at least `count` batches; the batches delivered by then.
        func waitFor(_ count: Int, seconds: Double) async -> [KafkaBatch] {
            let deadline = Date().addingTimeInterval(seconds)
            while batches.withLock({ $0.count }) < count, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            return batches.withLock { $0 }
        }
    }

    /// A one-partition topic holding `count` messages "m0", "m1", ...
    static func topic(messages count: Int) async throws -> String {
        let brokers = TestBroker.brokers!
        let topic = "test-ahead-\(UUID().uuidString.prefix(8).lowercased())"
        try KafkaAdmin.createTopics(brokers: brokers, [(topic, 1)])
        let producer = try KafkaProducer(configuration: .producer(brokers: brokers))
        _ = try await producer.sendBatch((0..<count).map { (topic, nil, Array("m\($0)".utf8)) })
        producer.shutdown()
        return topic
    }

    static func consume(_ topic: String, group: String, lookahead: Int, into deliveries: Deliveries) throws -> (KafkaConsumer, Task<Void, any Error>) {
        let consumer = try KafkaConsumer(configuration: .consumer(brokers: TestBroker.brokers!, group: group), topics: [topic],
                                         maxBatch: 100, lookahead: lookahead)
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                for await batch in consumer.batches { deliveries.batches.withLock { $0.append(batch) } }
                try await group.waitForAll()
            }
        }
        return (consumer, task)
    }

    @Test(arguments: [0, 1])
    func noMoreBatchesWaitUncommittedThanTheLookaheadAllows(lookahead: Int) async throws {
        let topic = try await Self.topic(messages: 1000)
        let deliveries = Deliveries()
        let (consumer, task) = try Self.consume(topic, group: "test-ahead-\(UUID().uuidString.prefix(6))", lookahead: lookahead, into: deliveries)
        let first = await deliveries.waitFor(1, seconds: 20)
        try #require(!first.isEmpty)
        // However long the test waits, the consumer polls `lookahead` batches beyond the uncommitted first, no more.
        try await Task.sleep(for: .seconds(1.5))
        var delivered = deliveries.batches.withLock { $0 }
        #expect(delivered.count == 1 + lookahead, "\(delivered.count) batches delivered with one uncommitted, lookahead \(lookahead)")
        // The lag is that of the oldest uncommitted batch, not of the newest polled.
        let lag = consumer.lagSeconds(nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
        #expect(lag >= 1.5, "lag \(lag) s: the first batch has waited 1.5 s")

        // A batch committed twice gives its credit back once: one more batch, not two.
        delivered[0].commit()
        delivered[0].commit()
        delivered = await deliveries.waitFor(2 + lookahead, seconds: 10)
        try await Task.sleep(for: .seconds(1.5))
        delivered = deliveries.batches.withLock { $0 }
        #expect(delivered.count == 2 + lookahead)
        let values = delivered.flatMap(\.messages).map(\.valueString)
        #expect(values == (0..<values.count).map { "m\($0)" }, "in order, each once")
        consumer.stop()
        try await task.value
    }

    /// A batch polled ahead and never committed is delivered again to the group's next member, from its first
    /// message: the offsets stored are those of the batches committed, whatever was polled after them.
    @Test func aBatchPolledAheadAndNeverCommittedIsDeliveredAgain() async throws {
        let topic = try await Self.topic(messages: 300)
        let group = "test-ahead-\(UUID().uuidString.prefix(6))"
        let deliveries = Deliveries()
        let (consumer, task) = try Self.consume(topic, group: group, lookahead: 1, into: deliveries)
        let polled = await deliveries.waitFor(2, seconds: 20)
        try #require(polled.count == 2)
        polled[0].commit()  // the second, polled ahead, is never committed (its processing failed, say)
        consumer.stop()
        try await task.value

        let again = Deliveries()
        let (next, nextTask) = try Self.consume(topic, group: group, lookahead: 1, into: again)
        let redelivered = await again.waitFor(1, seconds: 20)
        try #require(!redelivered.isEmpty)
        #expect(redelivered[0].messages.first?.valueString == polled[1].messages.first?.valueString,
                "the group resumes at the first message of the batch polled ahead")
        next.stop()
        try await nextTask.value
    }
}
