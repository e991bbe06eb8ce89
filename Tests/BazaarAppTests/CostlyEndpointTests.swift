import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarMySQL
import BazaarSQLite
import Foundation
import HummingbirdTesting
import MySQLClient
import Testing

/// Issue 11, item 3: replenishment and forecasts are answered from what the intelligence engine stored, so a cheap
/// key cannot make the service fit models, write, or run a query per store of the chain; and a `store` key sees no
/// other store through them.
@Suite("Costly endpoints: bounded, proportionate, scoped", .ownConsistencyTokens)
struct CostlyEndpointTests {
    /// Six weeks of four sales a day after a receipt of 1000, then a count down to 2: S1's P1 is far below its
    /// reorder point. S2 receives 500 with no sales: all of it is excess (its thresholds are zero).
    static func shortAtS1ExcessAtS2(_ client: some TestClientProtocol, _ system: BazaarSystem) async throws {
        let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
        var history = [#"{"store_id": "S1", "product_id": "P1", "delta": 1000, "reason": "receipt", "occurred_at": "\#(RFC3339.formatDate(epochDay: today - 43))T08:00:00Z"}"#]
        for day in (today - 42)..<today {
            history.append(#"{"store_id": "S1", "product_id": "P1", "delta": -4, "reason": "sale", "occurred_at": "\#(RFC3339.formatDate(epochDay: day))T17:00:00Z"}"#)
        }
        #expect(try await client.call(.post, "/v1/movements", body: "{\"movements\": [\(history.joined(separator: ","))]}").status == 200)
        #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": 2}"#).status == 200)
        #expect(try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 500, "reason": "receipt"}"#).status == 200)
        // The intelligence evaluates after commit; the whole suite shares two cores meanwhile.
        #expect(try await eventually(seconds: 60) {
            let s1 = try await fresh { try await system.store.thresholds(storeID: "S1", productID: "P1") }
            let s2 = try await fresh { try await system.store.thresholds(storeID: "S2", productID: "P1") }
            return (s1?.historyDays ?? 0) >= 42 && s2 != nil
        })
    }

    @Test func aStoreKeysReplenishmentHoldsNoOtherStoresID() async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.intelligenceRecomputeSeconds = 0
        let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
        try await system.application().test(.router) { client in
            for store in ["S1", "S2"] { _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name": "\#(store)"}"#) }
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "lead_time_days": 2, "pack_size": 6}"#)
            try await Self.shortAtS1ExcessAtS2(client, system)

            // A manager sees the transfer from S2 (so the plan does have another store's id to leak).
            let manager = try await client.key(role: "manager")
            let full = try await client.call(.get, "/v1/stores/S1/replenishment", key: manager)
            #expect(full.status == 200, "\(full.body)")
            #expect((full.json["transfers"] as? [[String: Any]])?.first?["from_store_id"] as? String == "S2", "\(full.body)")

            // A till of S1: the same plan without S2. Its order covers the whole need instead.
            let till = try await client.key(role: "store", stores: ["S1"])
            let scoped = try await client.call(.get, "/v1/stores/S1/replenishment", key: till)
            #expect(scoped.status == 200, "\(scoped.body)")
            #expect(!scoped.body.contains("S2"), "a store key saw another store: \(scoped.body)")
            #expect((scoped.json["transfers"] as? [[String: Any]])?.isEmpty == true)
            let order = try #require((scoped.json["orders"] as? [[String: Any]])?.first)
            #expect((order["quantity"] as? Int ?? 0) > 0 && (order["quantity"] as? Int ?? 0) % 6 == 0)

            // A key for both stores may see S2: its role allows it.
            let both = try await client.key(role: "store", stores: ["S1", "S2"], name: "area")
            let area = try await client.call(.get, "/v1/stores/S1/replenishment", key: both)
            #expect((area.json["transfers"] as? [[String: Any]])?.first?["from_store_id"] as? String == "S2", "\(area.body)")
        }
        try await system.store.close()
    }

    /// A reader's forecast costs a row read: it answers exactly what the engine stored (a fit would answer its own
    /// numbers) and leaves the stored row as it was (the old GET refitted and wrote it on the primary).
    @Test func aForecastReadAnswersTheStoredForecastAndWritesNothing() async throws {
        let db = TestDatabase()
        let system = try await Harness.system(db.url)
        try await system.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "S1"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea"}"#)
            let reader = try await client.key(role: "reader")
            // Not evaluated yet: what is known, and says so.
            let before = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=7", key: reader)
            #expect(before.status == 200, "\(before.body)")
            #expect(before.json["computed_at"] is NSNull && (before.json["forecast"] as? [Any])?.isEmpty == true, "\(before.body)")

            let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
            var history = [#"{"store_id": "S1", "product_id": "P1", "delta": 100000, "reason": "receipt", "occurred_at": "\#(RFC3339.formatDate(epochDay: today - 99))T08:00:00Z"}"#]
            for day in (today - 98)..<today {
                history.append(#"{"store_id": "S1", "product_id": "P1", "delta": -\#(20 + day % 7 * 3), "reason": "sale", "occurred_at": "\#(RFC3339.formatDate(epochDay: day))T17:00:00Z"}"#)
            }
            #expect(try await client.call(.post, "/v1/movements", body: "{\"movements\": [\(history.joined(separator: ","))]}").status == 200)
            #expect(try await eventually { try await fresh { try await system.store.thresholds(storeID: "S1", productID: "P1") } != nil })

            // Mark the stored row: only a read of it can answer these numbers.
            var marked = try #require(try await fresh { try await system.store.thresholds(storeID: "S1", productID: "P1") })
            marked.dailyRate = 123.25
            marked.model = "Marked"
            marked.dailyLow = 100
            marked.dailyHigh = 150
            // Computed now, so not due: the node's recompute pass, whose first walk may come late on a loaded machine,
            // leaves it alone (a row computed in 2023 was due, and a late walk replaced it).
            let markedAt = WallClock.system.nowMillis()
            marked.computedAtMillis = markedAt
            try await system.store.saveThresholds(marked, storeID: "S1", productID: "P1")

            for _ in 0..<5 {
                let reply = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=28", key: reader)
                #expect(reply.status == 200, "\(reply.body)")
                #expect(reply.string("model") == "Marked" && reply.string("computed_at") == RFC3339.format(millis: markedAt), "\(reply.body)")
                let days = try #require(reply.json["forecast"] as? [[String: Any]])
                #expect(days.count == 28 && days.allSatisfy { $0["forecast"] as? Double == 123.25 && $0["hi"] as? Double == 150 })
            }
            #expect(try await fresh { try await system.store.thresholds(storeID: "S1", productID: "P1") } == marked, "a GET wrote the thresholds")
        }
        try await system.store.close()
    }

    /// 300 stores x 20 products: the plan of one store costs the same few queries a page whatever the chain's size
    /// (before: per item, a query per store holding the product, about 6,000 for this chain; 10^6 at 5,000 stores).
    @Test(arguments: Backend.available)
    func aReplenishmentPageCostsABoundedNumberOfQueriesOnAChainOf300Stores(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store: any StockStore
        let queries: @Sendable () -> Int
        switch backend {
        case .sqlite:
            let sqlite = try SQLiteStockStore(path: String(db.url.dropFirst("sqlite://".count)), countingStatements: true)
            store = sqlite
            queries = { sqlite.statementsRun ?? 0 }
        case .mariadb:
            let mysql = MySQLStockStore(options: .init(primary: try MySQLConfiguration(url: db.url)))
            store = mysql
            queries = { mysql.readsRun }
        }
        try await store.migrate()
        let stores = (0..<300).map { String(format: "S%03d", $0) }
        let products = (0..<20).map { String(format: "P%02d", $0) }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for id in stores { _ = try await store.upsertStore(Store(id: id, name: id, createdAtMillis: now, updatedAtMillis: now)) }
        for id in products { _ = try await store.upsertProduct(Product(id: id, name: id, packSize: 4, createdAtMillis: now, updatedAtMillis: now)) }
        // S000 holds 1 of each (below a reorder point of 5, up to 10); every other store 50 (40 above its own 10).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, id) in stores.enumerated() {
                group.addTask {
                    let quantity: Int64 = id == "S000" ? 1 : 50
                    _ = try await store.apply(WriteRequest(commands: try products.map {
                        try MovementCommand(storeID: id, productID: $0, change: .delta(quantity), reason: .receipt)
                    }, actor: "seed"))
                    for product in products {
                        try await store.saveThresholds(StockThresholds(dailyRate: 1, reorderPoint: 5, orderUpTo: 10, leadTimeDays: 2,
                                                                       anomalyAbove: 10, historyDays: 30, computedAtMillis: now),
                                                       storeID: id, productID: product)
                    }
                }
                if i % 16 == 15 { try await group.next() }
            }
            try await group.waitForAll()
        }
        let intelligence = IntelligenceService(store: store)
        var after: String?
        var pages = 0, orders = 0
        repeat {
            let before = queries()
            let page = try await intelligence.replenishment(storeID: "S000", afterProductID: after, limit: 6)
            let cost = queries() - before
            // Items, transfer sources, and (first page) the count of items not evaluated yet: 3 reads. SQLite counts
            // statements, about five per read (GRDB's transaction around each).
            #expect(cost <= (backend == .sqlite ? 15 : 3), "page \(pages): \(cost) queries")
            #expect(page.transfers.count == page.orders.count && page.transfers.allSatisfy { $0.fromStoreID == "S001" && $0.quantity == 9 })
            #expect(page.orders.allSatisfy { $0.quantity == 0 && $0.packSize == 4 })
            if pages == 0 { #expect(page.itemsWithoutThresholds == 0) }
            orders += page.orders.count
            pages += 1
            after = page.nextAfterProductID
        } while after != nil
        #expect(pages == 4 && orders == 20, "\(pages) pages, \(orders) orders")
        try await store.close()
    }
}
