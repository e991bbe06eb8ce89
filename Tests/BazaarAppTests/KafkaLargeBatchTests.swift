import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import Foundation
import HummingbirdTesting
import KafkaClient
import Testing

extension KafkaPipelineTests {
    /// A Kafka batch large enough for its inserts to go to the primary in parts ahead of its `COMMIT`
    /// (`PipelinedStatements`), while HTTP writers on two nodes write the same pairs, receipts and sales: row locks
    /// must order them. Afterwards every level is the sum of its ledger, each pair's versions chain in ledger order,
    /// each command is applied once, every HTTP write once, and every movement is on the topic once.
    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func aLargeBatchSentInPartsWhileHTTPWritersOnTwoNodesWriteTheSamePairs() async throws {
        let db = TestDatabase(.mariadb)
        let group = "test-large-\(UUID().uuidString.prefix(8))"
        let nodeA = try await KafkaTestBroker.system(db.url, group: group)
        let nodeB = try await KafkaTestBroker.system(db.url, group: group)
        let store = "L" + UUID().uuidString.prefix(8)
        let products = (0..<10).map { "P\($0)" }
        let http = LoopbackHTTP()
        let commands = 6000, writers = 16, writesEach = 25, seed: Int64 = 100
        let partsBefore = StorageMetrics.partsSentAhead
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                let ports = [try #require(a.port), try #require(b.port)]
                _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"l"}"#)
                for product in products {
                    _ = try await a.call(.put, "/v1/products/\(product)", body: #"{"name":"p"}"#)
                    let seeded = try await a.call(.post, "/update-stock/\(store)/\(product)", body: #"{"delta": \#(seed), "reason": "receipt"}"#)
                    try #require(seeded.status == 200, "\(seeded.body)")
                }
                let catalogOnB = try await eventually(seconds: 30) {
                    for product in products where try await b.call(.get, "/v1/products/\(product)", sendingConsistencyToken: false).status != 200 { return false }
                    return try await b.call(.get, "/v1/stores/\(store)", sendingConsistencyToken: false).status == 200
                }
                try #require(catalogOnB, "the catalog never reached node B's replica")
                // All on one partition (keyed by the store): a poll takes thousands of them into one transaction.
                let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
                let producing = Task {
                    try await producer.sendBatch((0..<commands).map { i in
                        ("bazaar.stock-commands", Array(store.utf8),
                         Array(#"{"id": "\#(store)-c\#(i)", "store_id": "\#(store)", "product_id": "P\#(i % 10)", "delta": \#(i % 3 + 1), "reason": "receipt", "reference": "\#(String(repeating: "r", count: 64))"}"#.utf8))
                    })
                }
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    for writer in 0..<writers {
                        tasks.addTask {
                            for i in 0..<writesEach {
                                // A sale never goes below zero here: every pair holds its seed and only gains otherwise.
                                let body = i % 2 == 0 ? #"{"delta": 2, "reason": "receipt"}"# : #"{"delta": -1, "reason": "sale"}"#
                                let reply = try await http.call(.POST, port: ports[writer % 2], "/update-stock/\(store)/P\((writer + i) % 10)",
                                                                body: body, idempotencyKey: "\(store)-h\(writer)-\(i)")
                                #expect(reply.status == 200, "\(reply.body)")
                            }
                        }
                    }
                    try await tasks.waitForAll()
                }
                _ = try await producing.value
                producer.shutdown()
                let expectedRows = Int64(products.count + commands + writers * writesEach)
                let connection = try OutboxRangeTests.rawConnection(db)
                defer { connection.close() }
                let applied = try await eventually(seconds: 90) {
                    try connection.select("SELECT COUNT(*) FROM stock_movements")[0].int(0) == expectedRows
                }
                #expect(applied, "every command and write applied once")
                #expect(try connection.select("SELECT COUNT(*) FROM stock_movements")[0].int(0) == expectedRows)
                // The batch was large: thousands of the commands in one transaction (one commit's rows share their
                // recording time), so its inserts went in parts.
                let largest = try connection.select("""
                    SELECT COUNT(*) FROM stock_movements WHERE actor LIKE 'kafka:%' GROUP BY recorded_at_ms ORDER BY 1 DESC LIMIT 1
                    """)[0].int(0)
                #expect(largest >= 1000, "the largest Kafka transaction held \(largest) commands")
                #expect(StorageMetrics.partsSentAhead > partsBefore)
                let mismatched = try connection.select("""
                    SELECT l.product_id FROM stock_levels l
                    WHERE l.quantity <> (SELECT SUM(delta) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
                       OR l.version <> (SELECT COUNT(*) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
                    """)
                #expect(mismatched.isEmpty, "levels that are not the sum of their ledger: \(mismatched.count)")
                let broken = try connection.select("""
                    SELECT COUNT(*) FROM stock_movements a JOIN stock_movements b
                      ON a.store_id = b.store_id AND a.product_id = b.product_id AND b.version = a.version + 1
                    WHERE b.seq < a.seq OR b.quantity_before <> a.quantity_after
                    """)[0].int(0)
                #expect(broken == 0, "each pair's movements chain in ledger order")
                let expectedTotal = seed * Int64(products.count) + (0..<commands).reduce(Int64(0)) { $0 + Int64($1 % 3 + 1) }
                    + Int64(writers) * (0..<writesEach).reduce(Int64(0)) { $0 + ($1 % 2 == 0 ? 2 : -1) }
                #expect(try connection.select("SELECT SUM(quantity) FROM stock_levels")[0].int(0) == expectedTotal)
                #expect(try connection.select("SELECT COUNT(*) FROM idempotency_keys WHERE `key` LIKE '\(store)-c%'")[0].int(0) == Int64(commands))
                _ = try await eventually(seconds: 60) { try await nodeA.store.outboxDepth() == 0 }
            }
        }
        let ids = try OutboxRangeTests.rawConnection(db).select("SELECT movement_id FROM stock_movements").map { try $0.string(0) }
        let messages = try await KafkaTestBroker.read(MovementEvent.topic) { messages in
            messages.filter { $0.keyString == store }.count >= ids.count
        }
        let published = messages.filter { $0.keyString == store }.compactMap { message in
            (try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])?["id"] as? String
        }
        #expect(published.count == ids.count && Set(published) == Set(ids), "\(published.count) events for \(ids.count) movements")
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
}
