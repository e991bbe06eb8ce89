import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import MySQLClient
import Testing

/// A fill-rate target (issue 16) through the API: a product's default and a store's override, the thresholds the
/// pass and the override size for it, what the answers say is in force, and the values refused.
@Suite("Fill-rate targets through the API", .ownConsistencyTokens)
struct FillRateTargetTests {
    @Test(arguments: Backend.available)
    func aFillRateTargetResizesTheThresholds(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let system = try await BazaarSystem.start(configuration: Harness.configuration(db.url), logger: .init(label: "test"))
        try await system.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "Leeds"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "lead_time_days": 2, "review_period_days": 7}"#)
            // Ninety days of lumpy sales (0 to 12 a day), and just enough received that the position ends low.
            let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
            let sold = (0..<90).map { Int64(($0 * 7) % 13) }
            var history = [#"{"store_id": "S1", "product_id": "P1", "delta": \#(sold.reduce(0, +) + 5), "reason": "receipt", "occurred_at": "\#(RFC3339.formatDate(epochDay: today - 91))T08:00:00Z"}"#]
            for (i, units) in sold.enumerated() where units > 0 {
                history.append(#"{"store_id": "S1", "product_id": "P1", "delta": -\#(units), "reason": "sale", "occurred_at": "\#(RFC3339.formatDate(epochDay: today - 90 + Int64(i)))T17:00:00Z"}"#)
            }
            #expect(try await client.call(.post, "/v1/movements", body: "{\"movements\": [\(history.joined(separator: ","))]}").status == 200)
            let pass = system.intelligencePass
            func walk() async throws { _ = try await pass.walkOnce(computedBefore: system.intelligence.clock.nowMillis() + 1) }
            func forecast() async throws -> Reply { try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=1") }

            try await walk()
            let cycle = try await forecast()
            #expect(cycle.string("target") == "service_level" && cycle.json["target_value"] as? Double == 0.95, "\(cycle.body)")
            #expect(cycle.json["lead_time_days"] as? Int == 2 && cycle.json["review_period_days"] as? Int == 7, "sized for: \(cycle.body)")
            let cycleOrderUpTo = try #require(cycle.json["order_up_to"] as? Double)

            // A store's fill-rate target: in force at once (re-derived from the stored forecast) and after the pass.
            let set = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"fill_rate": 0.98}"#)
            #expect(set.status == 200, "\(set.body)")
            #expect(set.string("target") == "fill_rate" && set.json["fill_rate"] as? Double == 0.98, "\(set.body)")
            #expect((set.json["overrides"] as? [String: Any])?["fill_rate"] as? Double == 0.98)
            var levels: [Double] = []
            for body in [#"{"fill_rate": 0.6}"#, #"{"fill_rate": 0.9}"#, #"{"fill_rate": 0.999}"#] {
                #expect(try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: body).status == 200)
                try await walk()
                let f = try await forecast()
                #expect(f.string("target") == "fill_rate", "\(f.body)")
                let orderUpTo = try #require(f.json["order_up_to"] as? Double), reorderPoint = try #require(f.json["reorder_point"] as? Double)
                #expect(reorderPoint == max(0, orderUpTo - 1), "base stock: any review below the level orders (\(f.body))")
                levels.append(orderUpTo)
            }
            #expect(levels[0] < levels[1] && levels[1] < levels[2], "a higher target holds more: \(levels)")
            #expect(levels[0] != cycleOrderUpTo || levels[2] != cycleOrderUpTo, "the target changed the thresholds")
            // The replenishment plan orders up to the fill-rate level, and says which target sized it.
            let plan = try await client.call(.get, "/v1/stores/S1/replenishment")
            let order = try #require((plan.json["orders"] as? [[String: Any]])?.first, "\(plan.body)")
            #expect(order["target"] as? String == "fill_rate" && order["order_up_to"] as? Double == levels[2])
            // A store's review period: the thresholds it re-derives at once say they were sized for it.
            #expect(try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings",
                                          body: #"{"fill_rate": 0.999, "review_period_days": 14}"#).status == 200)
            #expect(try await forecast().json["review_period_days"] as? Int == 14)
            try await walk()
            let fortnightly = try await forecast()
            #expect(fortnightly.json["review_period_days"] as? Int == 14, "\(fortnightly.body)")
            #expect(try #require(fortnightly.json["order_up_to"] as? Double) > levels[2], "two weeks between reviews hold more than one")
            #expect(Double(try #require(order["inventory_position"] as? Int) + (order["quantity"] as? Int ?? 0)) >= levels[2])

            // A store's service level over a product's fill rate: the store's target whole.
            let product = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "lead_time_days": 2, "review_period_days": 7, "fill_rate": 0.97}"#)
            #expect(product.status == 200)
            // Read back where the catalog is read (on MariaDB, a replica): once it has the product's target.
            #expect(try await eventually {
                let read = try await client.call(.get, "/v1/products/P1")
                return read.json["fill_rate"] as? Double == 0.97 && read.string("target") == "fill_rate"
            })
            let overridden = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"service_level": 0.9}"#)
            #expect(overridden.string("target") == "service_level" && overridden.json["fill_rate"] is NSNull, "\(overridden.body)")
            let plain = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{}"#)
            #expect(plain.string("target") == "fill_rate" && plain.json["fill_rate"] as? Double == 0.97, "the product's own again: \(plain.body)")
            try await walk()
            #expect(try await forecast().json["target_value"] as? Double == 0.97)

            // Refused with a problem that names the field: out of range, not a number, both targets at once.
            for body in [#"{"fill_rate": 0}"#, #"{"fill_rate": 1}"#, #"{"fill_rate": 1.5}"#, #"{"fill_rate": -0.2}"#, #"{"fill_rate": 0.49}"#,
                         #"{"fill_rate": "NaN"}"#, #"{"fill_rate": "0.9"}"#, #"{"fill_rate": null, "service_level": 1}"#,
                         #"{"service_level": 0.95, "fill_rate": 0.95}"#] {
                let refused = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: body)
                #expect((400...422).contains(refused.status) && refused.isProblem && (refused.body.contains("fill_rate") || refused.body.contains("service_level")), "\(body): \(refused.status) \(refused.body)")
                let product = try await client.call(.put, "/v1/products/P1", body: "{\"name\": \"Tea\", " + body.dropFirst())
                #expect((400...422).contains(product.status) && product.isProblem && (product.body.contains("fill_rate") || product.body.contains("service_level")), "product \(body): \(product.status) \(product.body)")
            }
            // Not a number JSON can carry: refused as a body that is not JSON.
            #expect(try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"fill_rate": 1e999}"#).status == 422)
            #expect(try await client.call(.get, "/v1/products/P1").json["fill_rate"] as? Double == 0.97, "a refused PUT changed nothing")
        }
        try await system.store.close()
    }

    /// A fill-rate target reads its spans off a year of demand, not the forecast's 180 days: last year's peak (ten
    /// days of 100 some 300 days ago, 2 a day otherwise) is among them and sets the level, as it would the coming
    /// peak's. With the forecast's 180 days the order-up-to level for 98% would be about two weeks of 2 a day.
    @Test(arguments: Backend.available)
    func aFillRateTargetReadsAYearOfSpans(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let system = try await BazaarSystem.start(configuration: Harness.configuration(db.url), logger: .init(label: "test"))
        try await system.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "Leeds"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "lead_time_days": 2, "review_period_days": 7, "fill_rate": 0.98}"#)
            let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
            func movement(_ day: Int64, _ delta: Int, _ reason: String) -> String {
                #"{"store_id": "S1", "product_id": "P1", "delta": \#(delta), "reason": "\#(reason)", "occurred_at": "\#(RFC3339.formatDate(epochDay: day))T12:00:00Z"}"#
            }
            var movements = [movement(today - 361, 100_000, "receipt")]
            for day in (today - 360)..<today { movements.append(movement(day, (today - 300...today - 291).contains(day) ? -100 : -2, "sale")) }
            for start in stride(from: 0, to: movements.count, by: StockService.maxBatchSize) {
                let chunk = movements[start..<min(start + StockService.maxBatchSize, movements.count)]
                #expect(try await client.call(.post, "/v1/movements", body: "{\"movements\": [\(chunk.joined(separator: ","))]}").status == 200)
            }
            _ = try await system.intelligencePass.walkOnce(computedBefore: system.intelligence.clock.nowMillis() + 1)
            let forecast = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=1")
            #expect(forecast.string("target") == "fill_rate", "\(forecast.body)")
            let orderUpTo = try #require(forecast.json["order_up_to"] as? Double, "\(forecast.body)")
            #expect(orderUpTo > 300, "last year's peak is in the spans: \(orderUpTo)")
            // A cycle service level reads the same year of spans (`Thresholds.periodicReview`): the peak sets its
            // level too. (The earlier lead-time rule read the count distribution of 180 days: under 60.)
            let put = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"service_level": 0.98}"#)
            #expect(put.status == 200, "\(put.body)")
            let cycle = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=1")
            #expect(cycle.string("target") == "service_level", "\(cycle.body)")
            #expect(try #require(cycle.json["order_up_to"] as? Double) > 300, "\(cycle.body)")
        }
        try await system.store.close()
    }

    /// A replica that has not applied schema 10 yet (no `fill_rate` column: rolling out the release while it lags)
    /// sends product reads to the primary instead of failing them with a 500 (MySQL error 1054, as 1146 for a table).
    @Test(.enabled(if: Backend.replicaQuiet, "needs the MariaDB test replica current: run in the quiet pass"))
    func aReplicaBehindTheFillRateMigrationIsPassedOver() async throws {
        let db = TestDatabase(.mariadb)
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.put, "/v1/products/P9", body: #"{"name": "Tea", "fill_rate": 0.96}"#)
            // On the replica itself (the API may answer from the primary while the replica is left out for lag): the
            // product and the column this test takes away.
            let replicaURL = try #require(Backend.replicaURL) + "/" + db.mysqlName!
            #expect(try await eventually(seconds: 120) {
                let connection = MySQLConnection(configuration: try MySQLConfiguration(url: replicaURL))
                guard (try? connection.open()) != nil else { return false }
                defer { connection.close() }
                return (try? connection.select("SELECT COUNT(*) FROM products WHERE id = 'P9' AND fill_rate IS NOT NULL")[0].int(0)) == 1
            }, "the replica has the product")
            try onReplica("SET SESSION sql_log_bin = 0", "ALTER TABLE \(db.mysqlName!).products DROP COLUMN fill_rate")
            defer { try? onReplica("SET SESSION sql_log_bin = 0", "ALTER TABLE \(db.mysqlName!).products ADD COLUMN fill_rate DOUBLE NULL") }
            let read = try await client.call(.get, "/v1/products/P9", sendingConsistencyToken: false)
            #expect(read.status == 200 && read.json["fill_rate"] as? Double == 0.96, "\(read.status) \(read.body)")
            let list = try await client.call(.get, "/v1/products", sendingConsistencyToken: false)
            #expect(list.status == 200 && list.items.first { $0["id"] as? String == "P9" }?["fill_rate"] as? Double == 0.96, "\(list.status) \(list.body)")
        }
    }

    /// `intelligence.default_fill_rate`: the target of a product whose PUT names none; a PUT with a service level keeps it.
    @Test func theChainDefaultFillRate() async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.intelligenceDefaultFillRate = 0.97
        let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
        try await system.application().test(.router) { client in
            let plain = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea"}"#)
            #expect(plain.json["fill_rate"] as? Double == 0.97 && plain.string("target") == "fill_rate", "\(plain.body)")
            let cycle = try await client.call(.put, "/v1/products/P2", body: #"{"name": "Jam", "service_level": 0.9}"#)
            #expect(cycle.json["fill_rate"] is NSNull && cycle.string("target") == "service_level", "\(cycle.body)")
        }
        try await system.store.close()
        for text in ["1", "0", "NaN", "0.3"] {
            await #expect(throws: (any Error).self, "\(text)") {
                try await BazaarConfiguration.load(environment: ["BAZAAR_INTELLIGENCE_DEFAULT_FILL_RATE": text])
            }
        }
        let read = try await BazaarConfiguration.load(environment: ["BAZAAR_INTELLIGENCE_DEFAULT_FILL_RATE": "0.96"])
        #expect(read.intelligenceDefaultFillRate == 0.96)
    }
}
