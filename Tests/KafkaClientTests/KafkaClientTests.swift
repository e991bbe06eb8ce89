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

    @Test func aBadPropertyIsATypedError() {
        #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: KafkaConfiguration(brokers: "127.0.0.1:1", ["no.such.property": "x"]))
        }
    }
}
