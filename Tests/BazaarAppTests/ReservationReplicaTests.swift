import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import MySQLClient
import Testing

/// Reservations on MariaDB with a replica that trails the primary (here: a replica database that never gets the
/// reservation, as a replica would be until it applies it), for a client that sends no consistency token.
@Suite(.ownConsistencyTokens) struct ReservationReplicaTests {
    /// In the replica's quiet pass (`Backend.replicaQuiet`): it waits for the replica to create a database's schema,
    /// which under the MariaDB pass's writes once took longer than its 60 s (CI).
    @Test(.enabled(if: Backend.primaryURL != nil && Backend.replicaQuiet, "needs the MariaDB test replica current: run in the quiet pass"))
    func fulfilAndReleaseOfAReservationTheReplicaHasNotAppliedYet() async throws {
        let db = TestDatabase(.mariadb)
        let behind = TestDatabase(.mariadb)
        try await Stores.open(behind).close()  // its schema, which the replica applies
        let behindURL = behind.replicaURL
        let replicaURL = try #require(behindURL)
        // A loaded replica may not have created the database yet either (error 1049): that is "not yet", too.
        let schemaOnReplica = try await eventually(seconds: 60) {
            let connection = MySQLConnection(configuration: try MySQLConfiguration(url: replicaURL))
            guard (try? connection.open()) != nil else { return false }
            defer { connection.close() }
            return try connection.select("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'reservations'")[0].int(0) == 1
        }
        try #require(schemaOnReplica)
        var configuration = Harness.configuration(db.url)
        configuration.replicaURLs = [replicaURL]
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let system = try await BazaarSystem.start(configuration: configuration, logger: logger)
        try await system.application().test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> Reply {
                try await client.call(method, uri, body: body, sendingConsistencyToken: false)
            }
            _ = try await call(.put, "/v1/stores/S1", #"{"name":"Store S1"}"#)
            _ = try await call(.put, "/v1/products/P1", #"{"name":"Product P1"}"#)
            _ = try await call(.post, "/update-stock/S1/P1", #"{"delta": 5, "reason": "receipt"}"#)
            let made = try await call(.post, "/v1/reservations", #"{"store_id": "S1", "product_id": "P1", "quantity": 2}"#)
            try #require(made.status == 201, "\(made.body)")
            let id = try #require(made.string("reservation_id"))
            let fulfilled = try await call(.post, "/v1/reservations/\(id)/fulfil")
            let released = try await call(.post, "/v1/reservations/\(id)/release")
            // The reservation is read on the primary when the replica does not have it yet.
            #expect(fulfilled.status == 200 && fulfilled.string("status") == "fulfilled", "\(fulfilled.body)")
            #expect(released.status == 409 && released.string("reservation_status") == "fulfilled", "\(released.body)")
        }
        try await system.store.close()
    }
}

/// A replica that has not created the database yet (it trails the primary's `CREATE DATABASE`, or a new database was
/// added to a running deployment): reads are answered by the primary, never a 500.
@Suite struct ReplicaWithoutTheDatabaseTests {
    @Test(.enabled(if: Backend.primaryURL != nil && Backend.replicaURL != nil))
    func readsFallBackToThePrimaryWhenTheReplicaLacksTheDatabase() async throws {
        let db = TestDatabase(.mariadb)
        let missing = try #require(Backend.replicaURL) + "/bazaar_never_created_" + UUID().uuidString.prefix(8).lowercased()
        let store = MySQLStockStore(options: .init(primary: try MySQLConfiguration(url: db.url), replicas: [try MySQLConfiguration(url: missing)]))
        try await store.migrate()
        _ = try await store.apply(WriteRequest(commands: [try MovementCommand(storeID: "S1", productID: "P1", change: .delta(3), reason: .receipt)],
                                               actor: "test"))
        for _ in 0..<3 {
            #expect(try await store.level(storeID: "S1", productID: "P1")?.quantity == 3)
            var query = AuditQuery()
            query.storeID = "S1"
            query.limit = 10
            #expect(try await store.auditLog(query).count == 1)
        }
        try await store.close()
    }
}
