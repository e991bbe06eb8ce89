import Foundation
@testable import KafkaClient
import Synchronization
import Testing

/// The producer replaces a librdkafka client that stopped delivering (a timed-out delivery, a fatal error) by a fresh
/// one; what the old client held is reported, never left waiting.
@Suite(.enabled(if: TestBroker.brokers != nil, "needs BAZAAR_TEST_KAFKA_BROKERS (scripts/services/kafka.sh)"))
struct KafkaProducerReplacementTests {
    /// Nothing listens at port 1: the message times out with nothing delivered for as long, and the next send goes
    /// through a fresh client (a stuck client, with the broker back, would otherwise time out every message until the
    /// process restarts).
    @Test(.timeLimit(.minutes(1)))
    func aDeliveryThatTimedOutSendsTheNextMessageThroughAFreshClient() async throws {
        let reported = Mutex<[KafkaError]>([])
        var configuration = KafkaConfiguration.producer(brokers: "127.0.0.1:1")
        configuration.properties["message.timeout.ms"] = "500"
        let producer = try KafkaProducer(configuration: configuration) { error in reported.withLock { $0.append(error) } }
        defer { producer.shutdown() }
        let first = await #expect(throws: KafkaError.self) { try await producer.send(topic: "t", key: nil, value: [1]) }
        #expect(first?.code == -192, "\(String(describing: first)): librdkafka's _MSG_TIMED_OUT")
        #expect(producer.clientsReplaced == 0, "replaced only when a send needs it")
        _ = await #expect(throws: KafkaError.self) { try await producer.send(topic: "t", key: nil, value: [2]) }
        #expect(producer.clientsReplaced == 1)
        let replaced = reported.withLock { $0.filter { $0.code == KafkaError.clientReplaced } }
        #expect(replaced.count == 1 && replaced[0].message.contains("timed out"), "\(replaced)")
    }

    /// A shutdown whose bounded flush cannot deliver (nothing listens at port 1, and messages may wait a minute)
    /// answers the senders still waiting, with a purge error, rather than leaving them suspended forever.
    @Test(.timeLimit(.minutes(1)))
    func aShutdownAnswersEverySenderStillWaiting() async throws {
        var configuration = KafkaConfiguration.producer(brokers: "127.0.0.1:1")
        configuration.properties["message.timeout.ms"] = "60000"
        let producer = try KafkaProducer(configuration: configuration, shutdownFlushMillis: 300)
        let single = Task { try await producer.send(topic: "t", key: nil, value: [1]) }
        let batch = Task { await producer.sendBatchSettled([("t", nil, [2]), ("t", nil, [3])]) }
        for _ in 0..<1000 where producer.messagesInFlight < 3 { try await Task.sleep(for: .milliseconds(5)) }
        producer.shutdown()
        let error = await #expect(throws: KafkaError.self) { try await single.value }
        #expect(error?.code == -152, "\(String(describing: error)): librdkafka's _PURGE_QUEUE")
        let codes = await batch.value.map { result -> Int32? in if case .failure(let error) = result { error.code } else { nil } }
        #expect(codes == [-152, -152], "\(codes)")
    }

    /// A timeout while the client delivers other messages (a partition whose broker is down, the others fine) is not
    /// a stuck client: it is kept. A fatal error always replaces it.
    @Test func aTimeoutAmongDeliveriesKeepsTheClientAndAFatalErrorReplacesIt() {
        let timeout = KafkaError(code: -192, message: "Local: Message timed out")
        let working = ProducerCallbacks(timeoutMillis: 60_000) { _ in }
        working.delivered()
        working.timedOut(timeout)
        let kept = !working.needsReplacing.load(ordering: .relaxed)
        #expect(kept, "delivered within the timeout: kept")
        let silent = ProducerCallbacks(timeoutMillis: 0) { _ in }
        silent.timedOut(timeout)
        let replaced = silent.needsReplacing.load(ordering: .relaxed)
        #expect(replaced, "nothing delivered for as long as the timeout: replaced")
        let fatal = ProducerCallbacks(timeoutMillis: 60_000) { _ in }
        fatal.markForReplacement(KafkaError(code: -187, message: "out of order sequence", isFatal: true))
        let fatalReplaced = fatal.needsReplacing.load(ordering: .relaxed) && fatal.reason.withLock { $0?.isFatal } == true
        #expect(fatalReplaced)
    }

    /// The client is replaced while thousands of messages are queued or in flight: every message gets an answer (the
    /// old client's leftovers a purge error), the failed ones sent again through the fresh client all arrive, and
    /// the producer goes on delivering.
    @Test(.timeLimit(.minutes(1)))
    func aClientReplacedMidBatchAnswersEveryMessageAndTheRetriesArrive() async throws {
        let brokers = TestBroker.brokers!
        let topic = "test-replace-\(UUID().uuidString.prefix(8).lowercased())"
        try KafkaAdmin.createTopics(brokers: brokers, [(topic, 4)])
        // A long linger keeps what does not fill a request (`batch.num.messages`) queued until the replacement.
        var configuration = KafkaConfiguration.producer(brokers: brokers, lingerMillis: 2_000)
        configuration.properties["batch.num.messages"] = "1000"
        let producer = try KafkaProducer(configuration: configuration)
        defer { producer.shutdown() }
        let messages = (0..<20_000).map { i in (topic: topic, key: Optional(Array("k\(i % 16)".utf8)), value: Array("m\(i)".utf8)) }
        _ = try await producer.send(topic: topic, key: nil, value: Array("before".utf8))  // connected, with a producer id
        let sending = Task { await producer.sendBatchSettled(messages) }
        // Replaced once the batch is in the client's hands (full requests go out; the rest lingers for 2 s). A count
        // of 1 or 2 can still be the first message's leftovers (its report's event, the idempotent producer's id).
        for _ in 0..<2000 where producer.messagesInFlight < 1_000 { try await Task.sleep(for: .milliseconds(5)) }
        producer.replaceClient()
        let results = await sending.value
        #expect(producer.clientsReplaced == 1)
        let failed = results.indices.filter { if case .failure = results[$0] { true } else { false } }
        let codes = Set(failed.compactMap { if case .failure(let error) = results[$0] { error.code } else { nil } })
        // _PURGE_QUEUE, _PURGE_INFLIGHT, or _DESTROY for one handed to the old client as it closed.
        #expect(codes.isSubset(of: [-152, -151, -197]), "\(codes)")
        #expect(!failed.isEmpty, "the replacement came with messages still queued")
        let retried = try await producer.sendBatch(failed.map { messages[$0] })
        #expect(retried.count == failed.count)
        let last = try await producer.send(topic: topic, key: nil, value: Array("after".utf8))
        #expect(last.offset >= 0)
        let seen = try await Self.values(of: topic, brokers: brokers, until: messages.count + 1)
        let missing = messages.filter { !seen.contains(String(decoding: $0.value, as: UTF8.self)) }
        #expect(missing.isEmpty && seen.contains("after"), "\(missing.count) of \(messages.count) never arrived (\(failed.count) were retried)")
    }

    /// The distinct values on `topic`, read from the start until `count` were seen or 20 s passed.
    static func values(of topic: String, brokers: String, until count: Int) async throws -> Set<String> {
        let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers, group: "test-replace-\(UUID().uuidString.prefix(6))"),
                                         topics: [topic], maxBatch: 5000)
        let runner = Task { try await consumer.run() }
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(20))
            consumer.stop()
        }
        var seen = Set<String>()
        for await batch in consumer.batches {
            for message in batch.messages { seen.insert(message.valueString) }
            batch.commit()
            if seen.count >= count { break }
        }
        consumer.stop()
        watchdog.cancel()
        try await runner.value
        return seen
    }
}
