import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HummingbirdTesting
import MySQLClient
import Synchronization
import Testing
import TestShell

/// Runs scripts/services/mariadb.sh with one command (stop-replica, start-primary...). Through `system`, which waits
/// for the script alone: Foundation's Process would also wait for the server it leaves running (it inherits a descriptor).
func mariadbService(_ command: String) throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let status = Shell.run("bash '\(root.appendingPathComponent("scripts/services/mariadb.sh").path)' \(command) >/dev/null 2>&1")
    guard status == 0 else { throw TestFailure("mariadb.sh \(command) failed (\(status))") }
}

/// Runs SQL on the test replica (as an operator would).
func onReplica(_ statements: String...) throws {
    let connection = MySQLConnection(configuration: try MySQLConfiguration(url: Backend.replicaURL!))
    try connection.open()
    for sql in statements { try connection.query(sql) }
    connection.close()
}

/// Whether the test replica applies the transaction with this GTID within `seconds` (one wait on the server).
func replicaApplies(_ gtid: String, within seconds: Int) throws -> Bool {
    var configuration = try MySQLConfiguration(url: Backend.replicaURL!)
    configuration.readTimeoutSeconds = max(configuration.readTimeoutSeconds, UInt32(seconds + 10))
    let connection = MySQLConnection(configuration: configuration)
    try connection.open()
    defer { connection.close() }
    return try connection.query("SELECT MASTER_GTID_WAIT('\(gtid)', \(seconds))").first?.int(0) == 0
}

func waitUntil(_ seconds: Double = 15, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// In the pass for tests that need the replica current (`Backend.replicaQuiet`): each waits for it to apply a write.
@Suite("Replicas serve reads; read-your-writes", .ownConsistencyTokens,
       .enabled(if: Backend.replicaQuiet, "needs the MariaDB test replica current: run in the quiet pass"))
struct ReplicaReadTests {
    @Test func readsAreServedByTheReplica() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { _, client in
            let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 4, "reason": "receipt"}"#)
            let token = try #require(write.headers[.bazaarConsistency], "a write answers its consistency token")
            #expect(token.split(separator: "-").count == 3)
            // Read-your-writes: the replica answers once it applied the write (the primary answers meanwhile, after
            // database.replica_wait_ms: a loaded machine's replica may trail that long; one past
            // database.replica_max_lag_seconds is left out of reads until it catches up, which under the whole
            // suite's writes on two cores can take tens of seconds).
            #expect(try await waitUntil(90) {
                let before = StorageMetrics.readCounts.replica
                let read = try await client.call(.get, "/get-stock/S1/P1", headers: [.bazaarConsistency: token])
                return read.int("quantity") == 4 && StorageMetrics.readCounts.replica > before
            })
            // Proof that listings come from the replica: a row that only the replica has (not replicated) shows. Once
            // the replica has this database's tables: the read above may have been another test's replica read (the
            // count is the process's), and under the whole suite's writes the replica once trailed the schema here.
            #expect(try await waitUntil(90) { (try? onReplica("SELECT 1 FROM \(db.mysqlName!).stores LIMIT 1")) != nil })
            try onReplica("SET SESSION sql_log_bin = 0", "INSERT INTO \(db.mysqlName!).stores VALUES ('ONLY-ON-REPLICA', 'r', '{}', 1, 1)")
            // Without a consistency token: the harness would send the newest token of any test in the process, which
            // the replica may trail for as long as other suites keep writing (the primary answers meanwhile).
            // (A replica past database.replica_max_lag_seconds is left out until it catches up: under the suite's
            // load at the start of the pass that can take a while.)
            #expect(try await waitUntil(90) {
                try await client.call(.get, "/v1/stores", sendingConsistencyToken: false).items.map { $0["id"] as? String }.contains("ONLY-ON-REPLICA")
            })
            let invalid = try await client.call(.get, "/get-stock/S1/P1", headers: [.bazaarConsistency: "not a token"])
            #expect(invalid.status == 400 && invalid.isProblem)
        }
    }

    /// Reads inside `ConsistencyScope.readingThePrimary` skip the replicas (the plan's actions read the plan again that
    /// way once the levels they planned from refused them: a replica behind would give them the same stale plan).
    @Test func readsMarkedForThePrimarySkipTheReplica() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { system, _ in
            #expect(try await waitUntil(90) { (try? onReplica("SELECT 1 FROM \(db.mysqlName!).stores LIMIT 1")) != nil })
            try onReplica("SET SESSION sql_log_bin = 0", "INSERT INTO \(db.mysqlName!).stores VALUES ('ONLY-ON-REPLICA', 'r', '{}', 1, 1)")
            let onlyOnReplica = { (stores: [Store]) in stores.contains { $0.id == "ONLY-ON-REPLICA" } }
            #expect(try await waitUntil(90) { onlyOnReplica(try await system.store.stores(afterID: nil, limit: 100)) }, "a plain read: the replica")
            #expect(!onlyOnReplica(try await ConsistencyScope.readingThePrimary { try await system.store.stores(afterID: nil, limit: 100) }))
        }
    }

    /// Issue 11: tokens are signed, so no key can make a replica connection wait on a position of its choosing
    /// (before: `0-1-999999999` held one for `database.replica_wait_ms`, 500 ms, per request) and a malformed one
    /// is a 400 saying what to send (before: `--` answered 500).
    @Test func aForgedOrMalformedConsistencyTokenIsRefusedWithoutWaiting() async throws {
        let db = TestDatabase(.mariadb)
        // A replica's wait for a position it has not reached is long here (two minutes), so that a refusal that waited
        // for it is told apart from a fast one by a wide margin, whatever the load on the machine.
        try await Harness.withApp(db.url, configure: { $0.replicaWaitMillis = 120_000 }) { _, client in
            let reader = try await client.key(role: "reader")
            let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 4, "reason": "receipt"}"#)
            let token = try #require(write.headers[.bazaarConsistency])
            let parts = token.split(separator: ".")
            #expect(parts.count == 2 && parts[1].count == 32, "<gtid>.<mac>: \(token)")
            // The genuine token still reads the write, once the replica applied it: under the whole pass's load it
            // can trail for longer than the test client's 30 s, and a read would wait two minutes for it here.
            #expect(try replicaApplies(String(parts[0]), within: 90), "the replica applies \(parts[0])")
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: reader, headers: [.bazaarConsistency: token]).int("quantity") == 4)
            let forged = ["0-1-999999999", "0-1-999999999.\(parts[1])", "\(parts[0]).00000000000000000000000000000000", "--", ",,,",
                          "0-1-1.zz", "\(parts[0]).\(parts[1].uppercased())", String(repeating: "1", count: 5000), ""]
            for bad in forged {
                let started = ContinuousClock.now
                let reply = try await client.call(.get, "/get-stock/S1/P1", key: reader, headers: [.bazaarConsistency: bad])
                let took = ContinuousClock.now - started
                #expect(reply.status == 400 && reply.isProblem && reply.body.contains("invalid-consistency-token"), "\(bad.prefix(40)): \(reply.status) \(reply.body)")
                #expect(reply.body.contains("exactly as a write"), "the answer says what to send: \(reply.body)")
                // A replica's wait for a forged position would be database.replica_wait_ms (120 s here).
                #expect(took < .seconds(60), "\(bad.prefix(40)) waited \(took)")
            }
        }
    }
}

/// Tests that stop and start the shared test servers: run on their own (scripts/test.sh sets BAZAAR_TEST_DISRUPTIVE=1
/// in a separate pass), one at a time.
@Suite("Replica and primary outages", .ownConsistencyTokens, .serialized,
       .enabled(if: Backend.replicaURL != nil && Backend.disruptive, "disruptive: run alone"))
struct OutageTests {
    @Test func theReplicaStoppedMidTestThenStartedAgain() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { system, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 10, "reason": "receipt"}"#)
            try mariadbService("stop-replica")
            defer { try? mariadbService("start-replica") }
            for delta in 1...5 {
                let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
                #expect(write.status == 200)
                let read = try await client.call(.get, "/get-stock/S1/P1")
                #expect(read.status == 200 && read.int("quantity") == Int64(10 - delta), "answered and correct without the replica")
            }
            try mariadbService("start-replica")
            // The replica monitor (a service of the group in production) puts it back into reads once it replicates.
            let monitor = Task { try await (system.store as! MySQLStockStore).replicaMonitor.run() }
            defer { monitor.cancel() }
            #expect(try await waitUntil {
                let before = StorageMetrics.readCounts.replica
                let read = try await client.call(.get, "/get-stock/S1/P1")
                return read.int("quantity") == 5 && StorageMetrics.readCounts.replica > before
            }, "reads reach the replica again")
        }
    }

    @Test func replicationLagWhileAClientReadsItsOwnWrites() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
            try onReplica("STOP SLAVE SQL_THREAD")
            defer { try? onReplica("START SLAVE SQL_THREAD") }
            for expected in 2...6 {
                let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
                let token = try #require(write.headers[.bazaarConsistency])
                let read = try await client.call(.get, "/get-stock/S1/P1", headers: [.bazaarConsistency: token])
                #expect(read.int("quantity") == Int64(expected), "its own write, although the replica has stopped applying")
            }
            try onReplica("START SLAVE SQL_THREAD")
        }
    }

    /// A PUT answers the row it wrote, not the replica's older copy: the replica has the first version of the product
    /// and stops applying; every later PUT (sent without a token, as a first request of a client would be) answers
    /// its own name, and so does a store override of the replenishment settings.
    @Test func aCatalogWriteAnswersWhatItWroteWhileTheReplicaLags() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "Store one"}"#)
            let created = try await client.call(.put, "/v1/products/LAG-1", body: #"{"name": "Name 1"}"#)
            #expect(created.status == 201)
            let replicaURL = try #require(Backend.replicaURL).appending("/" + (db.mysqlName ?? ""))
            let onTheReplica = try await eventually(seconds: 90) {
                let connection = MySQLConnection(configuration: try MySQLConfiguration(url: replicaURL))
                guard (try? connection.open()) != nil else { return false }
                defer { connection.close() }
                return try connection.select("SELECT COUNT(*) FROM products WHERE id = 'LAG-1' AND name = 'Name 1'")[0].int(0) == 1
            }
            try #require(onTheReplica)
            try onReplica("STOP SLAVE SQL_THREAD")
            defer { try? onReplica("START SLAVE SQL_THREAD") }
            for n in 2...4 {
                let put = try await client.call(.put, "/v1/products/LAG-1", body: #"{"name": "Name \#(n)", "pack_size": \#(n)}"#,
                                                sendingConsistencyToken: false)
                #expect(put.status == 200 && put.string("name") == "Name \(n)" && put.int("pack_size") == Int64(n), "\(put.body)")
                let settings = try await client.call(.put, "/v1/stores/S1/products/LAG-1/replenishment-settings", body: #"{"lead_time_days": \#(n + 10)}"#,
                                                     sendingConsistencyToken: false)
                #expect(settings.status == 200 && settings.int("lead_time_days") == Int64(n + 10) && settings.int("pack_size") == Int64(n),
                        "\(settings.body)")
            }
            try onReplica("START SLAVE SQL_THREAD")
        }
    }

    /// The primary stopped and started while 8 writers write, each retrying with its key until answered: every
    /// acknowledged write is applied once, and the day's demand kept with the level equals the rollup of the ledger.
    @Test func thePrimaryRestartedUnderLoadLosesNoAcknowledgedWrite() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { system, client in
            let acknowledged = SharedCount(), restarted = SharedCount()
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1000, "reason": "receipt"}"#).status == 200)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        for n in 0..<40 {
                            // Retry with the same Idempotency-Key until answered: applied once, whatever happened.
                            // Receipts of 2 and sales of 1 by turns: the day's demand has something to lose too.
                            let key = "w\(writer)-\(n)"
                            let body = n % 2 == 0 ? #"{"delta": 2, "reason": "receipt"}"# : #"{"delta": -1, "reason": "sale"}"#
                            for _ in 0..<300 {
                                let reply = try await client.call(.post, "/update-stock/S1/P1", body: body,
                                                                  headers: [.init("Idempotency-Key")!: key])
                                if reply.status == 200 {
                                    acknowledged.add()
                                    break
                                }
                                #expect(reply.status == 503 && reply.isProblem, "an outage answers 503, not 500: \(reply.body)")
                                try await Task.sleep(for: .milliseconds(50))
                            }
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(300))
                    try mariadbService("stop-primary")
                    try mariadbService("start-primary")
                    restarted.add()
                }
                try await group.waitForAll()
            }
            #expect(restarted.value == 1)
            #expect(acknowledged.value == 320)
            // Read at once, no retry: a pooled connection the restart closed is reopened before its next use.
            let read = try await client.call(.get, "/get-stock/S1/P1")
            #expect(read.int("quantity") == 1160 && read.int("version") == 321, "every acknowledged write, each once: \(read.body)")
            // The day's demand (kept on the stock row, in the write's transaction) equals the rollup of the ledger.
            let ledger = try await system.store.movements(storeID: "S1", productID: "P1", sinceMillis: 0)
            let demand = try #require(system.store as? any DemandStore)
            let days = try await demand.demandDays(storeID: "S1", productID: "P1", sinceDay: 0)
            #expect(days == DemandDays.rollup(ledger) && days.map(\.sold).reduce(0, +) == 160, "\(days)")
        }
    }

    @Test func twoNodesOnOneDatabaseKeepInvariantOne() async throws {
        let db = TestDatabase(.mariadb)
        let nodeA = try await Harness.system(db.url)
        let nodeB = try await Harness.system(db.url)
        try await nodeA.application().test(.router) { a in
            try await nodeB.application().test(.router) { b in
                _ = try await a.call(.put, "/v1/stores/S1", body: #"{"name":"s"}"#)
                _ = try await a.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
                _ = try await a.call(.put, "/v1/products/P2", body: #"{"name":"p"}"#)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<200 {
                        let client = i % 2 == 0 ? a : b
                        let product = i % 3 == 0 ? "P2" : "P1"
                        group.addTask {
                            let write = try await client.call(.post, "/update-stock/S1/\(product)", body: #"{"delta": 2, "reason": "receipt"}"#)
                            #expect(write.status == 200)
                        }
                    }
                    try await group.waitForAll()
                }
                for product in ["P1", "P2"] {
                    let totals = try await nodeA.store.ledgerTotals(storeID: "S1", productID: product)
                    let seenOnB = try await b.call(.get, "/get-stock/S1/\(product)")
                    #expect(seenOnB.int("quantity") == totals.sum && seenOnB.int("version") == totals.rows)
                }
                #expect(try await nodeA.store.ledgerTotals(storeID: "S1", productID: "P1").sum
                        + nodeA.store.ledgerTotals(storeID: "S1", productID: "P2").sum == 400)
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
}

final class SharedCount: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
