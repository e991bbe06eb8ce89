import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import KafkaClient
import MySQLClient
import Synchronization
import Testing

extension KafkaPipelineTests {
    /// Kafka batches large enough for their inserts to go to the primary in parts ahead of their `COMMIT`
    /// (`PipelinedStatements`), while HTTP writers on two nodes write the same pairs, receipts and sales, for as long
    /// as the batches are being written: row locks must order them. The HTTP writes are shown to have committed
    /// between the batches (their sequences fall among the batches'). Afterwards every level is the sum of its ledger,
    /// each pair's versions chain in ledger order, each command is in the ledger once (its reference is its id), every
    /// HTTP write once, and every movement is on the topic once. Once, in the production-shape pass: the test is heavy
    /// (8,000 commands, two nodes), and what it holds does not depend on the pass's default engine.
    @Test(.enabled(if: Backend.primaryURL != nil && Backend.selected == .mariadb, "the MariaDB pass"))
    func aLargeBatchSentInPartsWhileHTTPWritersOnTwoNodesWriteTheSamePairs() async throws {
        let db = TestDatabase(.mariadb)
        let (nodeA, nodeB) = try await KafkaTestBroker.twoNodes(db.url, groupPrefix: "test-large")
        let store = "L" + UUID().uuidString.prefix(8)
        let products = (0..<10).map { "P\($0)" }
        let http = LoopbackHTTP()
        let commands = 8000, writers = 16, seed: Int64 = 100
        let url = db.url
        // A statement on the primary, on a connection of its own: tasks may read at once.
        let query: @Sendable (String) throws -> [MySQLRow] = { sql in
            let own = MySQLConnection(configuration: try MySQLConfiguration(url: url))
            try own.open()
            defer { own.close() }
            return try own.select(sql)
        }
        let count: @Sendable (String) throws -> Int64 = { try query("SELECT COUNT(*) FROM stock_movements WHERE \($0)")[0].int(0) }
        let httpDeltas = AnsweredDeltas()
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
                // The writers write from before the commands are produced until every one is in the ledger (at most 400
                // writes each): they wait on the batches' row locks, ahead of the next batch, and take the pairs between
                // two batches. One task watches the ledger, on a connection of its own.
                let ingested = SharedFlag(false)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        let watcher = MySQLConnection(configuration: try MySQLConfiguration(url: url))
                        try watcher.open()
                        defer { watcher.close() }
                        _ = try await eventually(seconds: 120) {
                            try watcher.select("SELECT COUNT(*) FROM stock_movements WHERE actor LIKE 'kafka:%'")[0].int(0) >= Int64(commands)
                        }
                        ingested.set(true)
                    }
                    for writer in 0..<writers {
                        tasks.addTask {
                            var i = 0
                            while i < 400, !ingested.isSet {
                                // A sale never goes below zero here: every pair holds its seed and only gains otherwise.
                                let delta: Int64 = i % 2 == 0 ? 2 : -1
                                let reply = try await http.call(.POST, port: ports[writer % 2], "/update-stock/\(store)/P\((writer + i) % 10)",
                                                                body: #"{"delta": \#(delta), "reason": "\#(delta > 0 ? "receipt" : "sale")"}"#,
                                                                idempotencyKey: "\(store)-h\(writer)-\(i)")
                                #expect(reply.status == 200, "\(reply.body)")
                                if reply.status == 200 { httpDeltas.deltas.withLock { $0.append(delta) } }
                                i += 1
                            }
                        }
                    }
                    // All on one partition (keyed by the store), produced at once: a poll takes thousands into one transaction.
                    tasks.addTask {
                        let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
                        _ = try await producer.sendBatch((0..<commands).map { i in
                            ("bazaar.stock-commands", Array(store.utf8),
                             Array(#"{"id": "\#(store)-c\#(i)", "store_id": "\#(store)", "product_id": "P\#(i % 10)", "delta": \#(i % 3 + 1), "reason": "receipt", "reference": "\#(store)-c\#(i)"}"#.utf8))
                        })
                        producer.shutdown()
                    }
                    try await tasks.waitForAll()
                }
                let written = httpDeltas.deltas.withLock { $0 }
                let expectedRows = Int64(products.count + commands + written.count)
                #expect(try await eventually(seconds: 90) { try count("1") == expectedRows }, "every command and write applied")
                #expect(try count("1") == expectedRows)
                // Each command once: its reference is its id.
                #expect(try query("SELECT COUNT(DISTINCT reference) FROM stock_movements WHERE actor LIKE 'kafka:%'")[0].int(0) == Int64(commands))
                #expect(try count("actor LIKE 'kafka:%'") == Int64(commands))
                // The batches were large (one commit's rows share their recording time), so their inserts went in parts;
                // and HTTP writes committed between them.
                let largest = try query("""
                    SELECT COUNT(*) FROM stock_movements WHERE actor LIKE 'kafka:%' GROUP BY recorded_at_ms ORDER BY 1 DESC LIMIT 1
                    """)[0].int(0)
                // ~500 bytes of inserts a command: 2,000 are about four parts of 256 KiB.
                #expect(largest >= 2000, "the largest Kafka transaction held \(largest) commands")
                let between = try count("""
                    actor NOT LIKE 'kafka:%' AND seq BETWEEN (SELECT MIN(seq) FROM stock_movements WHERE actor LIKE 'kafka:%')
                    AND (SELECT MAX(seq) FROM stock_movements WHERE actor LIKE 'kafka:%')
                    """)
                #expect(between > 0, "no HTTP write committed while the batches were written (\(written.count) written)")
                let mismatched = try query("""
                    SELECT l.product_id FROM stock_levels l
                    WHERE l.quantity <> (SELECT SUM(delta) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
                       OR l.version <> (SELECT COUNT(*) FROM stock_movements m WHERE m.store_id = l.store_id AND m.product_id = l.product_id)
                    """)
                #expect(mismatched.isEmpty, "levels that are not the sum of their ledger: \(mismatched.count)")
                let broken = try query("""
                    SELECT COUNT(*) FROM stock_movements a JOIN stock_movements b
                      ON a.store_id = b.store_id AND a.product_id = b.product_id AND b.version = a.version + 1
                    WHERE b.seq < a.seq OR b.quantity_before <> a.quantity_after
                    """)[0].int(0)
                #expect(broken == 0, "each pair's movements chain in ledger order")
                let expectedTotal = seed * Int64(products.count) + (0..<commands).reduce(Int64(0)) { $0 + Int64($1 % 3 + 1) } + written.reduce(0, +)
                #expect(try query("SELECT SUM(quantity) FROM stock_levels")[0].int(0) == expectedTotal)
                _ = try await eventually(seconds: 60) { try await nodeA.store.outboxDepth() == 0 }
            }
        }
        let ids = try query("SELECT movement_id FROM stock_movements").map { try $0.string(0) }
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

/// The deltas of the HTTP writes answered 200, from many tasks.
private final class AnsweredDeltas: Sendable {
    let deltas = Mutex<[Int64]>([])
}
