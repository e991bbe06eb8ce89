import BazaarApp
import BazaarCore
import Foundation
import GRDB
import MySQLClient
@testable import BazaarMySQL
@testable import BazaarSQLite
import Testing

/// The fill-rate migrations (SQLite 14, MySQL 10) on a database of the schema before them, with rows written by the
/// release before: a product, a store's override and stored thresholds without a target. The upgraded database
/// serves them as cycle-service-level rows (`fill_rate` null, `target` `service_level`; thresholds of no known target
/// answer `target` null), takes a fill rate afterwards, and a second start migrates nothing twice. On MySQL, where
/// DDL is not transactional, a start killed after the migration's first statement is finished by the next one.
@Suite("Fill-rate schema upgrade", .ownConsistencyTokens)
struct FillRateSchemaUpgradeTests {
    /// The rows an earlier release wrote, in the columns it knew.
    static let oldRows = [
        "INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) VALUES ('S1', 'Leeds', '{}', 1, 1)",
        """
        INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms, updated_at_ms)
        VALUES ('P1', 'Tea', '{}', 3, 7, 1, 0.9, 1, 1)
        """,
        "INSERT INTO replenishment_overrides (store_id, product_id, lead_time_days, service_level) VALUES ('S1', 'P1', 2, 0.97)",
        """
        INSERT INTO stock_thresholds (store_id, product_id, daily_rate, reorder_point, order_up_to, lead_time_days, anomaly_above, computed_at_ms,
            history_days, dispersion, daily_lo, daily_hi) VALUES ('S1', 'P1', 2, 9, 25, 2, 40, 1, 90, 1.5, 0, 5)
        """,
    ]

    /// The database at the schema before the fill-rate migration, holding `oldRows`; `partly`: the first statement
    /// of the migration applied too, its version not recorded (a start killed in between).
    static func previousSchema(_ db: borrowing TestDatabase, partly: Bool = false) throws {
        switch db.backend {
        case .sqlite:
            let queue = try DatabaseQueue(path: String(db.url.dropFirst("sqlite://".count)))
            try queue.write { d in
                try d.execute(sql: "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)")
                for migration in SQLiteSchema.migrations where migration.version < 14 {
                    for statement in migration.statements { try d.execute(sql: statement) }
                    try d.execute(sql: "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, 1)", arguments: [migration.version])
                }
                for row in oldRows { try d.execute(sql: row) }
            }
            try queue.close()
        case .mariadb:
            let connection = MySQLConnection(configuration: try MySQLConfiguration(url: db.url))
            try connection.open()
            defer { connection.close() }
            try connection.query("CREATE TABLE schema_migrations (version INT NOT NULL PRIMARY KEY, applied_at_ms BIGINT NOT NULL) \(MySQLSchema.table)")
            for migration in MySQLSchema.migrations where migration.version < 10 {
                for statement in migration.statements { try connection.query(statement) }
                try connection.query("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (\(migration.version), 1)")
            }
            for row in oldRows { try connection.query(row) }
            if partly, let first = MySQLSchema.migrations.first(where: { $0.version == 10 })?.statements.first { try connection.query(first) }
        }
    }

    @Test(arguments: Backend.available)
    func anUpgradedDatabaseServesItsRowsAndTakesAFillRate(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        try Self.previousSchema(db, partly: backend == .mariadb)
        try await Harness.withApp(db.url, seed: false) { _, client in
            // (On MariaDB the catalog is read on the replica: once it has the rows.)
            #expect(try await waitUntil(90) { try await client.call(.get, "/v1/products/P1").status == 200 })
            let product = try await client.call(.get, "/v1/products/P1")
            #expect(product.status == 200 && product.json["service_level"] as? Double == 0.9, "\(product.body)")
            #expect(product.json["fill_rate"] is NSNull && product.string("target") == "service_level", "\(product.body)")
            let settings = try await client.call(.get, "/v1/stores/S1/products/P1/replenishment-settings")
            #expect(settings.status == 200 && settings.json["service_level"] as? Double == 0.97 && settings.json["lead_time_days"] as? Int == 2,
                    "\(settings.body)")
            #expect(settings.string("target") == "service_level" && settings.json["fill_rate"] is NSNull, "\(settings.body)")
            #expect((settings.json["overrides"] as? [String: Any])?["fill_rate"] is NSNull, "\(settings.body)")
            let forecast = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=1")
            #expect(forecast.status == 200 && forecast.json["order_up_to"] as? Double == 25, "\(forecast.body)")
            #expect(forecast.json["target"] is NSNull && forecast.json["target_value"] is NSNull, "written before targets were kept: \(forecast.body)")
            #expect(forecast.json["review_period_days"] is NSNull, "written before review periods were kept: \(forecast.body)")

            let set = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"fill_rate": 0.95}"#)
            #expect(set.status == 200 && set.string("target") == "fill_rate", "\(set.body)")
            let put = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "fill_rate": 0.9}"#)
            #expect(put.status == 200 && put.json["fill_rate"] as? Double == 0.9, "\(put.body)")
        }
        // A second start applies nothing again, and reads what the first wrote.
        try await Harness.withApp(db.url, seed: false) { _, client in
            let settings = try await client.call(.get, "/v1/stores/S1/products/P1/replenishment-settings")
            #expect(settings.status == 200 && settings.json["fill_rate"] as? Double == 0.95, "\(settings.body)")
        }
    }
}
