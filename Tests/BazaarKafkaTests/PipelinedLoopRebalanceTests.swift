@testable import BazaarKafka
import Foundation
import KafkaClient
import Synchronization
import Testing

/// The ingestion's pipelined loop (`KafkaConsumerLoop.runOverlapped` over a consumer with a lookahead of one: two
/// batches processed side by side, each partition's part in turn, parts taking random times) in a group whose members
/// come and go while messages flow: a member that joins takes partitions over, one that stops mid-stream leaves its
/// prepared batch unprocessed and uncommitted, and between them every message is processed, each key's first in the
/// order produced. It fails when a batch's offsets are stored as it is prepared rather than after it is processed
/// (checked on the two-stage loop it replaced: ~170 messages never processed), when a batch's part of a partition
/// does not wait for its turn (checked: keys out of order), or when batches never overlap.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BAZAAR_TEST_KAFKA_BROKERS"] != nil, "needs BAZAAR_TEST_KAFKA_BROKERS"))
struct PipelinedLoopRebalanceTests {
    static let brokers = ProcessInfo.processInfo.environment["BAZAAR_TEST_KAFKA_BROKERS"] ?? ""

    final class Seen: Sendable {
        /// Each processed message's value, in the order processed, by partition.
        let processed = Mutex<[Int32: [String]]>([:])
        let count = Atomic<Int>(0)
        /// Batches being processed now by one member, and the most at once.
        let running = Mutex<(now: Int, most: Int)>((0, 0))
    }

    /// A member: prepares (decodes) ahead, processes slowly (each partition's part of a batch of at most 20 in 20-200
    /// ms: slower than the messages come, so a batch is always polled ahead), stops once `stop` says so; returns how
    /// many messages it processed.
    static func member(topic: String, group: String, seen: Seen, stop: @escaping @Sendable (_ processedHere: Int) -> Bool) async throws -> Int {
        let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers, group: group), topics: [topic], maxBatch: 20, lookahead: 1)
        let mine = Seen()
        let stopper = Task {
            while !stop(mine.count.load(ordering: .relaxed)), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            consumer.stop()
        }
        let prepare: @Sendable (KafkaBatch) async -> [(Int32, String)] = { batch in batch.messages.map { ($0.partition, $0.valueString) } }
        let record: @Sendable ([(Int32, String)]) -> Void = { prepared in
            seen.processed.withLock { for (partition, value) in prepared { $0[partition, default: []].append(value) } }
            seen.count.add(prepared.count, ordering: .relaxed)
            mine.count.add(prepared.count, ordering: .relaxed)
        }
        try await KafkaConsumerLoop.runOverlapped(consumer, topic: topic, role: "test", prepare: prepare) { batch, prepared, turns in
            // This member's batches at once (the shared tally keeps the most of any member).
            let now = mine.running.withLock { $0.now += 1; return $0.now }
            seen.running.withLock { $0.most = max($0.most, now) }
            defer { mine.running.withLock { $0.now -= 1 } }
            await withTaskGroup(of: Void.self) { parts in
                for partition in Set(prepared.map(\.0)) {
                    let lane = PartitionLane(topic: topic, partition: partition)
                    parts.addTask {
                        guard await turns.turn(lane) else { return turns.settle(lane, false) }
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 20...200)))
                        record(prepared.filter { $0.0 == partition })
                        turns.settle(lane, true)
                    }
                }
            }
            return true
        }
        stopper.cancel()
        return mine.count.load(ordering: .relaxed)
    }

    @Test func membersJoiningAndLeavingMidStreamMissNothingAndKeepEachPartitionsOrder() async throws {
        let topic = "test-pipe-\(UUID().uuidString.prefix(8).lowercased())"
        let group = "test-pipe-\(UUID().uuidString.prefix(6))"
        try KafkaAdmin.createTopics(brokers: Self.brokers, [(topic, 4)])
        let seen = Seen()
        let total = 2000
        let started = Date()
        // Done when every message was processed at least once (or after 60 s).
        let done: @Sendable (Int) -> Bool = { _ in
            Set(seen.processed.withLock { $0.values.flatMap { $0 } }).count >= total || Date().timeIntervalSince(started) > 60
        }
        let second = Seen()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // The first stays to the end; the second joins after 1 s and leaves once it has processed 60 messages
            // (three batches), with a backlog: it stops with a batch prepared and unprocessed.
            tasks.addTask { _ = try await Self.member(topic: topic, group: group, seen: seen, stop: done) }
            tasks.addTask {
                try await Task.sleep(for: .seconds(1))
                let processed = try await Self.member(topic: topic, group: group, seen: seen) { $0 >= 60 || done(0) }
                second.count.store(processed, ordering: .relaxed)
            }
            tasks.addTask {
                let producer = try KafkaProducer(configuration: .producer(brokers: Self.brokers))
                for round in 0..<20 {  // about 8 s of messages, keyed over the partitions
                    _ = try await producer.sendBatch((0..<100).map { i in
                        (topic, Array("k\(i % 16)".utf8), Array("k\(i % 16)/\(round * 100 + i)".utf8))
                    })
                    try await Task.sleep(for: .milliseconds(400))
                }
                producer.shutdown()
            }
            try await tasks.waitForAll()
        }
        #expect(second.count.load(ordering: .relaxed) > 0, "the second member took partitions over before it left")
        #expect(seen.running.withLock { $0.most } >= 2, "batches processed side by side")
        let processed = seen.processed.withLock { $0 }
        let values = processed.values.flatMap { $0 }
        let missing = (0..<total).filter { n in !values.contains { $0.hasSuffix("/\(n)") } }
        #expect(missing.isEmpty, "\(missing.count) never processed, e.g. \(missing.prefix(5))")
        // A key's messages are first processed in the order produced: a batch delivered again after the second
        // member left repeats what was processed already, and never puts a later message before an earlier one.
        var firstSeen: [String: [Int]] = [:]
        var known = Set<String>()
        for list in processed.values {
            for value in list where known.insert(value).inserted {
                let parts = value.split(separator: "/")
                firstSeen[String(parts[0]), default: []].append(Int(parts[1])!)
            }
        }
        for (key, numbers) in firstSeen {
            #expect(numbers == numbers.sorted(), "key \(key): first processed out of order")
        }
    }
}
