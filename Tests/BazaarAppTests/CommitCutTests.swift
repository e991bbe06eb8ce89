import BazaarApp
import BazaarCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import KafkaClient
import MySQLClient
import Testing

/// A group commit whose connection to the MariaDB primary is lost, through a proxy that cuts it at a chosen byte
/// (`CuttingProxy`), through the real HTTP API: before the commit's round trip nothing was committed and the write
/// is run again, unseen by its writer; in the commit's round trip the outcome is unknown, the writer is told so
/// (503), and its retry with the same `Idempotency-Key` is answered with what was committed, applied once.
@Suite(.enabled(if: Backend.selected == .mariadb && Backend.primaryURL != nil, "needs the MariaDB test primary (BAZAAR_TEST_BACKEND=mariadb)"))
struct CommitCutTests {
    /// A proxy to the test primary and a database reached through it.
    static func throughProxy(_ db: borrowing TestDatabase) throws -> (CuttingProxy, String) {
        let primary = try MySQLConfiguration(url: try #require(Backend.primaryURL))
        guard let name = db.mysqlName, primary.host == "127.0.0.1", primary.password == nil || primary.password == "" else {
            throw TestFailure("a MariaDB test database on 127.0.0.1 without a password (scripts/services/mariadb.sh)")
        }
        let proxy = try CuttingProxy(targetPort: Int(primary.port))
        return (proxy, "mysql://\(primary.user)@127.0.0.1:\(proxy.port)/\(name)")
    }

    /// The ledger and the level of one pair, read on the primary itself.
    static func ledger(_ database: String, _ store: String, _ product: String) throws -> (movements: Int64, quantity: Int64?) {
        let connection = MySQLConnection(configuration: try MySQLConfiguration(url: Backend.primaryURL! + "/" + database))
        try connection.open()
        defer { connection.close() }
        let count = try connection.select("SELECT COUNT(*) FROM stock_movements WHERE store_id = ? AND product_id = ?", [store, product])[0].int(0)
        let level = try connection.select("SELECT quantity FROM stock_levels WHERE store_id = ? AND product_id = ?", [store, product])
        return (count, try level.first?.int(0))
    }

    static func write(_ client: any TestClientProtocol, key: String?, delta: Int = 5) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let key { headers[.init("Idempotency-Key")!] = key }
        return try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": \#(delta), "reason": "receipt"}"#, headers: headers)
    }

    @Test func aCommitWhoseAnswerIsLostIsAnsweredUnknownAndItsRetryAppliesOnce() async throws {
        let db = TestDatabase(.mariadb)
        let (proxy, url) = try Self.throughProxy(db)
        let name = db.mysqlName!
        defer { proxy.stop() }
        try await Harness.withApp(url) { _, client in
            // The group commit's last round trip: its inserts, then COMMIT, in one packet.
            proxy.arm { transaction, chunk in chunk.contains("COMMIT") && transaction.contains("INSERT INTO stock_movements") }
            let lost = try await Self.write(client, key: "cut-1")
            #expect(proxy.cuts == 1)
            #expect(lost.status == 503 && lost.isProblem, "\(lost.status) \(lost.body)")
            #expect(lost.body.contains("Idempotency-Key"), "the problem says how to retry safely: \(lost.body)")
            #expect(lost.string("outcome") == "unknown" && lost.string("type") == "/problems/database-unavailable", "\(lost.body)")
            // The server ran the COMMIT it was sent (the proxy waited for its answer): committed, unanswered.
            #expect(try await eventually(seconds: 10) { try Self.ledger(name, "S1", "P1") == (1, 5) }, "the commit happened")

            let retried = try await Self.write(client, key: "cut-1")
            #expect(retried.status == 200 && retried.int("quantity") == 5, "answered with what was committed: \(retried.body)")
            #expect(try Self.ledger(name, "S1", "P1") == (1, 5), "applied once")
            // And the store goes on: the next write commits through a new connection.
            #expect(try await Self.write(client, key: "cut-2", delta: 2).int("quantity") == 7)
            #expect(try Self.ledger(name, "S1", "P1") == (2, 7))

            // A writer without a key: told the same, and its write is not run again by the store (run again, it
            // would apply twice: nothing tells the second run the first committed).
            proxy.arm { transaction, chunk in chunk.contains("COMMIT") && transaction.contains("INSERT INTO stock_movements") }
            let keyless = try await Self.write(client, key: nil, delta: 3)
            #expect(proxy.cuts == 2)
            #expect(keyless.status == 503 && keyless.isProblem && keyless.string("outcome") == "unknown", "\(keyless.status) \(keyless.body)")
            #expect(try await eventually(seconds: 10) { try Self.ledger(name, "S1", "P1") == (3, 10) }, "applied once, not twice")
            try await Task.sleep(for: .seconds(1))
            #expect(try Self.ledger(name, "S1", "P1") == (3, 10), "and only once")
        }
    }

    @Test func aConnectionLostBeforeTheCommitsRoundTripIsRunAgainUnseen() async throws {
        let db = TestDatabase(.mariadb)
        let (proxy, url) = try Self.throughProxy(db)
        let name = db.mysqlName!
        defer { proxy.stop() }
        try await Harness.withApp(url) { _, client in
            // The group commit's first round trip: START TRANSACTION and its locking reads.
            proxy.arm { _, chunk in chunk.contains("START TRANSACTION") && chunk.contains("stock_levels") && chunk.contains("FOR UPDATE") }
            let written = try await Self.write(client, key: nil)
            #expect(proxy.cuts == 1)
            #expect(written.status == 200 && written.int("quantity") == 5, "\(written.status) \(written.body)")
            #expect(try Self.ledger(name, "S1", "P1") == (1, 5))

            // The primary gone (the proxy stopped: its connections end, new ones are refused): a plain outage's
            // 503, which says nothing of an unknown outcome.
            proxy.stop()
            try await Task.sleep(for: .milliseconds(500))
            let down = try await Self.write(client, key: "down-1")
            #expect(down.status == 503 && down.string("type") == "/problems/database-unavailable", "\(down.status) \(down.body)")
            #expect(down.json["outcome"] == nil, "\(down.body)")
            #expect(try Self.ledger(name, "S1", "P1") == (1, 5))
        }
    }

    /// The same cut in Kafka ingestion: the batch's commit happened, its answer was lost, so the batch is applied
    /// again (its commands are idempotent by id): each command once, none sent to `.rejected`. (With an unknown
    /// outcome taken for a refusal, as other client errors were before d43adf5, all 20 went there, committed.)
    @Test(.enabled(if: KafkaTestBroker.brokers != nil, "needs BAZAAR_TEST_KAFKA_BROKERS"))
    func aKafkaBatchWhoseCommitAnswerIsLostIsAppliedOnceAndNeverRejected() async throws {
        let db = TestDatabase(.mariadb)
        let (proxy, url) = try Self.throughProxy(db)
        let name = db.mysqlName!
        defer { proxy.stop() }
        let system = try await KafkaTestBroker.system(url)
        let store = "X" + UUID().uuidString.prefix(8)
        try await system.application().test(.live) { client in
            _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"x"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
            proxy.arm { transaction, chunk in
                chunk.contains("COMMIT") && transaction.contains("INSERT INTO stock_movements") && transaction.contains(store)
            }
            let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
            _ = try await producer.sendBatch((0..<20).map { i in
                ("bazaar.stock-commands", Array(store.utf8),
                 Array(#"{"id": "\#(store)-\#(i)", "store_id": "\#(store)", "product_id": "P1", "delta": 1, "reason": "receipt"}"#.utf8))
            })
            producer.shutdown()
            #expect(try await eventually(seconds: 60) { try Self.ledger(name, store, "P1") == (20, 20) }, "every command applied")
            #expect(proxy.cuts == 1)
        }
        #expect(try Self.ledger(name, store, "P1") == (20, 20), "each once")
        let group = #""group":"\#(system.configuration.kafkaConsumerGroup)""#
        let rejected = try await KafkaTestBroker.read("bazaar.stock-commands.rejected", seconds: 20) { messages in
            messages.contains { $0.keyString == store && $0.valueString.contains(group) }
        }.filter { $0.keyString == store && $0.valueString.contains(group) }
        #expect(rejected.isEmpty, "committed commands are never refused: \(rejected.count), first: \(rejected.first?.valueString.prefix(300) ?? "")")
        try await system.store.close()
    }
}
