import Foundation
import Testing

@Suite("The dashboard's reads: the chain overview and a store's items")
struct OverviewTests {
    @Test func overviewCountsWhatNeedsActionAndAStoreKeySeesOnlyItsStores() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name":"Leeds 1","attributes":{"city":"Leeds","format":"city"}}"#)
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": 0}"#).status == 200)
            #expect(try await client.call(.post, "/update-stock/S1/P2", body: #"{"delta": 5, "reason": "receipt"}"#).status == 200)
            #expect(try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": -3, "reason": "sale"}"#).status == 200)

            let all = try await client.call(.get, "/v1/overview")
            #expect(all.status == 200, "\(all.body)")
            let byStore = Dictionary(uniqueKeysWithValues: all.items.map { ($0["store_id"] as! String, $0) })
            #expect(Set(byStore.keys) == ["S1", "S2", "S3"])
            #expect(byStore["S1"]?["name"] as? String == "Leeds 1")
            #expect((byStore["S1"]?["attributes"] as? [String: Any])?["city"] as? String == "Leeds")
            #expect(byStore["S1"]?["items"] as? Int == 2)
            #expect(byStore["S1"]?["stock_outs"] as? Int == 1)
            #expect(byStore["S2"]?["stock_outs"] as? Int == 1)
            #expect(byStore["S3"]?["items"] as? Int == 0)
            #expect(all.json["next_cursor"] is NSNull)
            // The negative level of S2 opens alerts (the intelligence runs after the commit): counted as open.
            #expect(try await eventually {
                let reply = try await client.call(.get, "/v1/overview")
                return (reply.items.first { $0["store_id"] as? String == "S2" }?["open_alerts"] as? Int ?? 0) >= 1
            })

            // Pages of stores, in id order, with no gap and no repeat.
            let first = try await client.call(.get, "/v1/overview?limit=2")
            #expect(first.items.map { $0["store_id"] as? String } == ["S1", "S2"])
            let cursor = try #require(first.string("next_cursor"))
            let second = try await client.call(.get, "/v1/overview?limit=2&cursor=\(cursor)")
            #expect(second.items.map { $0["store_id"] as? String } == ["S3"])
            #expect(try await client.call(.get, "/v1/overview?limit=101").status == 400)

            // A store key sees its own stores only; a reader every store.
            let till = try await client.key(role: "store", stores: ["S2"])
            let own = try await client.call(.get, "/v1/overview", key: till)
            #expect(own.items.map { $0["store_id"] as? String } == ["S2"])
            let reader = try await client.key(role: "reader")
            #expect(try await client.call(.get, "/v1/overview", key: reader).items.count == 3)
            #expect(try await client.call(.get, "/v1/overview", key: nil).status == 401)
        }
    }

    /// Issue 18: each store's sales a day, from the daily demand rows, oldest first up to today; returns count
    /// against sales; another store's sales never show in this one's line.
    @Test func overviewCarriesEachStoresSalesTrend() async throws {
        try await UTCDay.retryingAcrossMidnight { today in try await Self.salesTrend(today: today) }
    }

    /// The trend test on a fresh database, for a run that starts on `today` (it throws `UTCDay.Changed`, before the
    /// expectations that name days, when the server may have answered on another day).
    static func salesTrend(today: Int64) async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let day: Int64 = 86_400_000
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            func at(_ millis: Int64) -> String {
                let formatter = ISO8601DateFormatter()
                return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            }
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 100, "reason": "receipt"}"#).status == 200)
            // Two days ago: 7 sold; yesterday: 4 sold and 1 returned; today: 2 sold. S2 sells 50 today.
            for (delta, reason, when) in [(-7, "sale", now - 2 * day), (-4, "sale", now - day), (1, "return", now - day), (-2, "sale", now)] {
                let reply = try await client.call(.post, "/update-stock/S1/P1",
                                                  body: #"{"delta": \#(delta), "reason": "\#(reason)", "occurred_at": "\#(at(when))"}"#)
                #expect(reply.status == 200, "\(reply.body)")
            }
            #expect(try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 60, "reason": "receipt"}"#).status == 200)
            #expect(try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": -50, "reason": "sale"}"#).status == 200)

            let page = try await client.call(.get, "/v1/overview?trend_days=3")
            #expect(page.status == 200, "\(page.body)")
            try UTCDay.check(still: today)  // every clock reading of the server so far was on `today`
            let s1 = try #require(page.items.first { $0["store_id"] as? String == "S1" }?["trend"] as? [String: Any])
            #expect(s1["units"] as? [Int] == [0, 7, 3, 2], "\(s1)")
            #expect(s1["start"] as? String == String(at(now - 3 * day).prefix(10)))
            let s2 = try #require(page.items.first { $0["store_id"] as? String == "S2" }?["trend"] as? [String: Any])
            #expect(s2["units"] as? [Int] == [0, 0, 0, 50])
            // The default: 14 days and today.
            let standard = try await client.call(.get, "/v1/overview")
            #expect((standard.items.first?["trend"] as? [String: Any])?["units"] as? [Int] != nil)
            #expect(((standard.items.first?["trend"] as? [String: Any])?["units"] as? [Int])?.count == 15)
            for bad in ["0", "91", "x", "-1"] {
                let reply = try await client.call(.get, "/v1/overview?trend_days=\(bad)")
                #expect(reply.status == 400 && reply.body.contains("trend_days"), "\(bad): \(reply.body)")
            }
        }
    }

    @Test func storeItemsCarryNamesThresholdsAndAStatus() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": 0}"#).status == 200)
            #expect(try await client.call(.post, "/update-stock/S1/P3", body: #"{"delta": 4, "reason": "receipt"}"#).status == 200)
            let page = try await client.call(.get, "/v1/stores/S1/items")
            #expect(page.status == 200, "\(page.body)")
            #expect(page.items.map { $0["product_id"] as? String } == ["P1", "P3"])
            #expect(page.items.map { $0["name"] as? String } == ["Product P1", "Product P3"])
            #expect(page.items[0]["status"] as? String == "stock_out")
            #expect(page.items[0]["quantity"] as? Int == 0)
            #expect(page.items[0]["version"] as? Int == 1)
            for key in ["reorder_point", "order_up_to", "days_of_cover", "daily_rate", "active_alerts", "updated_at"] {
                #expect(page.items[1].keys.contains(key), "\(key) in \(page.items[1])")
            }
            #expect(["no_thresholds", "ok", "at_risk", "above_order_up_to"].contains(page.items[1]["status"] as? String ?? ""))
            // Inventory states beside the level: a reservation shows as reserved, and available drops.
            #expect(try await client.call(.post, "/v1/reservations", body: #"{"store_id": "S1", "product_id": "P3", "quantity": 3}"#).status == 201)
            let reserved = try await client.call(.get, "/v1/stores/S1/items").items[1]
            #expect(reserved["quantity"] as? Int == 4 && reserved["reserved"] as? Int == 3 && reserved["available"] as? Int == 1,
                    "\(reserved)")
            #expect(reserved["incoming"] as? Int == 0)
            let paged = try await client.call(.get, "/v1/stores/S1/items?limit=1")
            #expect(paged.items.count == 1)
            #expect(paged.string("next_cursor") == "kP1")

            let till = try await client.key(role: "store", stores: ["S2"])
            #expect(try await client.call(.get, "/v1/stores/S1/items", key: till).status == 403)
            #expect(try await client.call(.get, "/v1/stores/S2/items", key: till).status == 200)
            #expect(try await client.call(.get, "/v1/stores/NOPE/items").status == 404)
        }
    }
}
