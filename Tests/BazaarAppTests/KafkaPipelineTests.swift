import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import KafkaClient
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif
import TestShell

@Suite("Kafka: outbox to topic, commands ingested", .ownConsistencyTokens, .serialized, .enabled(if: KafkaTestBroker.brokers != nil, "needs BAZAAR_TEST_KAFKA_BROKERS"))
/// Serialized: each system consumes the shared command topic in a group of its own.
struct KafkaPipelineTests {
    @Test func everyCommittedMovementAppearsOnceByIdAndARolledBackOneNever() async throws {
        let db = TestDatabase()
        let system = try await KafkaTestBroker.system(db.url)
        let store = "K" + UUID().uuidString.prefix(8)
        let committed = try await system.application().test(.live) { client in
            var committed: [String] = []
            _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"k"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
            for i in 0..<40 {
                let write = try await client.call(.post, "/update-stock/\(store)/P1", body: #"{"delta": \#(i % 3 + 1), "reason": "receipt"}"#)
                committed.append(try #require(write.string("movement_id")))
                // A command that would go below zero is refused: nothing committed, nothing published.
                let refused = try await client.call(.post, "/update-stock/\(store)/P1", body: #"{"delta": -100000, "reason": "adjustment"}"#)
                #expect(refused.status == 409)
            }
            // The refused half of a transfer batch rolls back the whole request.
            let batch = try await client.call(.post, "/v1/movements", body: """
                {"movements": [{"store_id": "\(store)", "product_id": "P1", "delta": 1, "reason": "receipt"},
                               {"store_id": "\(store)", "product_id": "P1", "delta": -100000, "reason": "adjustment"}]}
                """)
            #expect(batch.status == 409)
            // The relay publishes after the commits: wait until the outbox is empty, for 60 s at most (a loaded
            // machine and a real broker; an event that is never published still fails).
            #expect(try await eventually(seconds: 60) { try await system.store.outboxDepth() == 0 }, "the outbox drained")
            return committed
        }
        let messages = try await KafkaTestBroker.read(MovementEvent.topic) { messages in
            messages.filter { $0.keyString == store }.count >= committed.count
        }
        let mine = messages.filter { $0.keyString == store }
        let ids = mine.compactMap { message -> String? in
            let json = try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any]
            return json?["id"] as? String
        }
        #expect(ids.count == committed.count, "exactly once each")
        #expect(ids == committed, "in commit order (one store, one partition)")
        #expect(Set(mine.map(\.partition)).count == 1)
        try await system.store.close()
    }

    @Test func commandsAreIngestedOnceAndPoisonIsRejectedWithoutStoppingThePartition() async throws {
        let db = TestDatabase()
        let system = try await KafkaTestBroker.system(db.url)
        let store = "C" + UUID().uuidString.prefix(8)
        try await system.application().test(.live) { client in
            _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"c"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
            let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
            var messages: [(topic: String, key: [UInt8]?, value: [UInt8])] = []
            func command(_ id: String, _ body: String) -> (topic: String, key: [UInt8]?, value: [UInt8]) {
                ("bazaar.stock-commands", Array(store.utf8), Array(body.utf8))
            }
            for i in 0..<30 {
                messages.append(command("c\(i)", #"{"id": "\#(store)-c\#(i)", "store_id": "\#(store)", "product_id": "P1", "delta": -1, "reason": "sale", "reference": "r\#(i)"}"#))
                if i == 10 { messages.append(command("poison", "this is not JSON")) }
                if i == 20 { messages.append(command("bad", #"{"id": "\#(store)-bad", "store_id": "\#(store)", "product_id": "NOPE", "delta": 1}"#)) }
            }
            // Replays of the first ten: applied once.
            for i in 0..<10 {
                messages.append(command("c\(i)", #"{"id": "\#(store)-c\#(i)", "store_id": "\#(store)", "product_id": "P1", "delta": -1, "reason": "sale", "reference": "r\#(i)"}"#))
            }
            _ = try await producer.sendBatch(messages)
            producer.shutdown()
            var level: Int64 = 0
            for _ in 0..<150 {
                level = try await client.call(.get, "/get-stock/\(store)/P1").int("version") ?? 0
                if level >= 30 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(level == 30, "30 distinct commands, each applied once (the replays are not)")
            let read = try await client.call(.get, "/get-stock/\(store)/P1")
            #expect(read.int("quantity") == -30, "sales are facts: recorded even below zero")
            // Applied in the partition's order.
            let audit = try await client.call(.get, "/audit-logs?store_id=\(store)&limit=100").items
            #expect(audit.reversed().compactMap { $0["reference"] as? String } == (0..<30).map { "r\($0)" })
        }
        // The topic holds every group's refusals: only this group's count.
        let group = #""group":"\#(system.configuration.kafkaConsumerGroup)""#
        let rejected = try await KafkaTestBroker.read("bazaar.stock-commands.rejected") { messages in
            messages.filter { $0.keyString == store && $0.valueString.contains(group) }.count >= 2
        }.filter { $0.keyString == store && $0.valueString.contains(group) }
        #expect(rejected.count == 2)
        #expect(rejected.contains { $0.valueString.contains("this is not JSON") && $0.valueString.contains("\"problem\"") })
        #expect(rejected.contains { $0.valueString.contains("unknown-product") })
        try await system.store.close()
    }

    @Test func twoNodesShareTheIngestionAndApplyEachCommandOnce() async throws {
        let db = TestDatabase()
        let (nodeA, nodeB) = try await KafkaTestBroker.twoNodes(db.url, groupPrefix: "test-shared")
        let store = "T" + UUID().uuidString.prefix(8)
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { _ in
                _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"t"}"#)
                for p in 1...8 { _ = try await a.call(.put, "/v1/products/P\(p)", body: #"{"name":"p"}"#) }
                // Commands flow while the second member joins the group and takes over partitions from the first.
                let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
                for round in 0..<10 {
                    // Keys spread over the partitions, so that both members have work.
                    _ = try await producer.sendBatch((round * 20..<round * 20 + 20).map { i in
                        ("bazaar.stock-commands", Array("\(store)-\(i % 8)".utf8), Array(#"{"id": "\#(store)-\#(i)", "store_id": "\#(store)", "product_id": "P\#(i % 8 + 1)", "delta": 1, "reason": "receipt"}"#.utf8))
                    })
                    try await Task.sleep(for: .milliseconds(800))
                }
                producer.shutdown()
                var total: Int64 = 0
                var perProduct: [Int64] = []
                for _ in 0..<150 {
                    perProduct = []
                    for p in 1...8 { perProduct.append(try await a.call(.get, "/get-stock/\(store)/P\(p)").int("version") ?? 0) }
                    total = perProduct.reduce(0, +)
                    if total >= 200 { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(total == 200, "every command applied exactly once by one of the two nodes: \(perProduct)")
                let actors = try await a.call(.get, "/audit-logs?store_id=\(store)&limit=500").items.compactMap { $0["actor"] as? String }
                #expect(actors.count == 200)
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
}

extension KafkaPipelineTests {
    @Test func theIntelligenceEngineReadsTheMovementTopicAndAlertsArePublished() async throws {
        let db = TestDatabase()
        let system = try await KafkaTestBroker.system(db.url)
        let store = "A" + UUID().uuidString.prefix(8)
        try await system.application().test(.live) { client in
            _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"a"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
            _ = try await client.call(.post, "/update-stock/\(store)/P1", body: #"{"delta": 5, "reason": "receipt"}"#)
            // A new intelligence group starts at the newest movement, and joining takes seconds: sell below zero
            // once a second until a sale is evaluated (every one of them leaves the level negative).
            var opened = false
            for _ in 0..<30 where !opened {
                _ = try await client.call(.post, "/update-stock/\(store)/P1", body: #"{"delta": -8, "reason": "sale"}"#)
                opened = try await eventually(seconds: 1) {
                    try await client.call(.get, "/v1/alerts?store_id=\(store)&kind=negative_stock&status=open").items.count == 1
                }
            }
            #expect(opened, "a sale below zero, read back from bazaar.stock-movements, opened a negative_stock alert")
            let metrics = try await client.call(.get, "/metrics", key: nil).body
            #expect(metrics.contains("bazaar_kafka_consumer_lag_seconds{topic=\"bazaar.stock-movements\",consumer=\"alerts\"}"))
            #expect(metrics.contains("bazaar_kafka_consumer_lag_seconds{topic=\"bazaar.stock-commands\",consumer=\"ingestion\"}"))
            #expect(metrics.contains("bazaar_outbox_depth"))
            // The node reads its own sales back from its memory of what it published, not verified again (the
            // registry is the process's: other suites' nodes count there too, so this is a smoke check of the metric;
            // `PublishedMovementsTests` holds the memory itself).
            #expect(metrics.contains("bazaar_kafka_movement_events_read_total{source=\"memory\"}"))
        }
        let alerts = try await KafkaTestBroker.read(AlertEvent.topic) { messages in
            messages.contains { $0.keyString == store && $0.valueString.contains("negative_stock") }
        }
        #expect(alerts.contains { $0.keyString == store && $0.valueString.contains("negative_stock") })
        try await system.store.close()
    }

    @Test func aWriteThroughOneNodeReachesTheCacheOfTheOther() async throws {
        let db = TestDatabase()
        let nodeA = try await KafkaTestBroker.system(db.url)
        let nodeB = try await KafkaTestBroker.system(db.url)
        let store = "N" + UUID().uuidString.prefix(8)
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"n"}"#)
                for p in 1...20 { _ = try await a.call(.put, "/v1/products/P\(p)", body: #"{"name":"p"}"#) }
                // B's coherence consumer joins its group in a few seconds, from the newest movement on. Each round
                // takes a product B has not read yet: B reads it (a fresh entry in B's cache), A writes it, and B must
                // see A's version within 1.5 s, well inside the cache's age bound (5 s): only the movement event can
                // have replaced the cached level.
                var seen = false
                for p in 1...20 where !seen {
                    #expect(try await b.call(.get, "/get-stock/\(store)/P\(p)", sendingConsistencyToken: false).int("version") == 0)
                    _ = try await a.call(.post, "/update-stock/\(store)/P\(p)", body: #"{"delta": 1, "reason": "receipt"}"#)
                    seen = try await eventually(seconds: 1.5) {
                        try await b.call(.get, "/get-stock/\(store)/P\(p)", sendingConsistencyToken: false).int("version") == 1
                    }
                }
                #expect(seen, "a write through node A replaced the level cached on node B")
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func twoNodesOnOneDatabasePublishEachMovementOnce() async throws {
        let db = TestDatabase(.mariadb)
        let nodeA = try await KafkaTestBroker.system(db.url)
        let nodeB = try await KafkaTestBroker.system(db.url)
        let store = "R" + UUID().uuidString.prefix(8)
        let committed = try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"r"}"#)
                _ = try await a.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
                var committed: [String] = []
                for i in 0..<40 {
                    let write = try await (i % 2 == 0 ? a : b).call(.post, "/update-stock/\(store)/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
                    committed.append(write.string("movement_id") ?? "")
                }
                for _ in 0..<100 where try await nodeA.store.outboxDepth() > 0 { try await Task.sleep(for: .milliseconds(100)) }
                try await Task.sleep(for: .seconds(2))  // both relays had their chances
                return committed
            }
        }
        let messages = try await KafkaTestBroker.read(MovementEvent.topic) { messages in
            messages.filter { $0.keyString == store }.count >= committed.count
        }
        let ids = messages.filter { $0.keyString == store }.compactMap { message in
            (try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])?["id"] as? String
        }
        #expect(ids == committed, "one relay at a time: each movement once, in commit order")
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
}

/// Stops and restarts the shared test broker: runs in the disruptive pass only.
@Suite("Kafka broker outage", .ownConsistencyTokens, .serialized,
       .enabled(if: KafkaTestBroker.brokers != nil && Backend.disruptive, "disruptive: run alone"))
struct KafkaOutageTests {
    @Test func writesCommitWhileTheBrokerIsDownAndAllArePublishedWhenItReturns() async throws {
        // From an empty broker (memory storage: a restart empties it): nothing of earlier tests is in flight across
        // the restart below, where thousands of messages in flight stalled its idempotent producer (the test broker
        // keeps no producer state; a real broker does).
        #expect(kafkaService("stop") == 0)
        #expect(kafkaService("start") == 0)
        let db = TestDatabase()
        let system = try await KafkaTestBroker.system(db.url)
        let store = "O" + UUID().uuidString.prefix(8)
        let committed = try await system.application().test(.live) { client in
            _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"o"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
            #expect(kafkaService("stop") == 0)
            var committed: [String] = []
            for _ in 0..<30 {
                let write = try await client.call(.post, "/update-stock/\(store)/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
                #expect(write.status == 200, "Kafka is not on the request path")
                committed.append(write.string("movement_id") ?? "")
            }
            #expect(try await system.store.outboxDepth() > 0, "the outbox holds the events meanwhile")
            try await Task.sleep(for: .seconds(6))
            let ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(ready.status == 200 && ready.body.contains("degraded"), "\(ready.body)")
            #expect(kafkaService("start") == 0)
            for _ in 0..<300 where try await system.store.outboxDepth() > 0 { try await Task.sleep(for: .milliseconds(200)) }
            #expect(try await system.store.outboxDepth() == 0, "published once the broker is back")
            return committed
        }
        let messages = try await KafkaTestBroker.read(MovementEvent.topic) { messages in
            Set(messages.filter { $0.keyString == store }.map(\.valueString)).count >= committed.count
        }
        var seen: [String] = []
        for message in messages where message.keyString == store {
            let json = try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any]
            if let id = json?["id"] as? String, !seen.contains(id) { seen.append(id) }  // at least once: duplicates dropped by id
        }
        #expect(seen == committed, "every movement committed during the outage, in commit order")
        try await system.store.close()
    }
}

/// Runs scripts/services/kafka.sh (stop, start) and returns its exit status.
func kafkaService(_ command: String) -> Int32 {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return Shell.run("bash '\(root.appendingPathComponent("scripts/services/kafka.sh").path)' \(command) >/dev/null 2>&1")
}
