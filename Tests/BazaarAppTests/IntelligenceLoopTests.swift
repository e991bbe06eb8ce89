import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import Testing

@Suite("Stock intelligence through the API: demand, thresholds, alerts, replenishment", .ownConsistencyTokens)
struct IntelligenceLoopTests {
    @Test func aSaleCrossingTheReorderPointRaisesExactlyOneAlertAndAReceiptResolvesIt() async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.intelligenceRecomputeSeconds = 0  // recompute thresholds from the ledger at every movement
        let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
        let alertEvents = system.bus.subscribe(topic: AlertEvent.topic)
        let alertID = try await system.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "Leeds"}"#)
            _ = try await client.call(.put, "/v1/stores/S2", body: #"{"name": "York"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "Tea", "lead_time_days": 2, "review_period_days": 7, "pack_size": 6}"#)
            // Six weeks of history through the API: a receipt, then four sold every day.
            let today = RFC3339.epochDay(millis: Int64(Date().timeIntervalSince1970 * 1000))
            var history = [#"{"store_id": "S1", "product_id": "P1", "delta": 1000, "reason": "receipt", "occurred_at": "\#(RFC3339.formatDate(epochDay: today - 43))T08:00:00Z"}"#]
            for day in (today - 42)..<today {
                history.append(#"{"store_id": "S1", "product_id": "P1", "delta": -4, "reason": "sale", "occurred_at": "\#(RFC3339.formatDate(epochDay: day))T17:00:00Z"}"#)
            }
            #expect(try await client.call(.post, "/v1/movements", body: "{\"movements\": [\(history.joined(separator: ","))]}").status == 200)

            // The forecast is what the engine stored (it evaluates after the commit): wait for the last movement's.
            // Its history runs from the receipt day to the day before the engine's today, the day of its
            // `thresholds_computed_at`: 43 days, one more when the engine computed after midnight UTC (that day
            // none sold), so a run across midnight expects what the engine's own clock reading implies.
            func expectedHistoryDays(_ reply: Reply) -> Int64? {
                guard let computedAt = reply.string("thresholds_computed_at").flatMap(RFC3339.parse) else { return nil }
                let engineToday = RFC3339.epochDay(millis: computedAt)
                return (today...today + 1).contains(engineToday) ? 43 + (engineToday - today) : nil
            }
            #expect(try await eventually {
                let reply = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=7")
                return reply.int("history_days") != nil && reply.int("history_days") == expectedHistoryDays(reply)
            })
            let forecast = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=7")
            #expect(forecast.status == 200)
            #expect(forecast.int("history_days") != nil && forecast.int("history_days") == expectedHistoryDays(forecast),
                    "42 days of sales and the receipt day (stock on hand, none sold): \(forecast.body)")
            #expect((forecast.json["forecast"] as? [[String: Any]])?.count == 7)
            let rate = try #require(forecast.json["daily_rate"] as? Double)
            #expect(abs(rate - 4) < 0.5)
            let reorderPoint = try #require(forecast.json["reorder_point"] as? Double)
            let orderUpTo = try #require(forecast.json["order_up_to"] as? Double)
            // A store that orders at its weekly reviews must cover lead time + review, 9 days of 4 (36), plus safety
            // stock; 42 days of history is too short for a year's spans, so the Poisson quantile: base stock.
            #expect(reorderPoint > 36 && reorderPoint < 60, "nine days of demand plus safety stock: \(reorderPoint)")
            #expect(orderUpTo > reorderPoint)

            // A store's own lead time: a longer one needs a higher reorder point.
            let settings = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"lead_time_days": 6}"#)
            #expect(settings.int("lead_time_days") == 6)
            #expect(settings.int("pack_size") == 6, "the product's pack size still applies")
            #expect((settings.json["overrides"] as? [String: Any])?["lead_time_days"] as? Int == 6)
            let longer = try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=7")
            #expect(longer.int("lead_time_days") == 6)
            #expect((longer.json["reorder_point"] as? Double ?? 0) > reorderPoint + 10)
            #expect(try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{"pack_size": 0}"#).status == 422)
            _ = try await client.call(.put, "/v1/stores/S1/products/P1/replenishment-settings", body: #"{}"#)
            #expect(try await client.call(.get, "/v1/stores/S1/products/P1/forecast").int("lead_time_days") == 2)

            // Low stock is below what covers the lead time (2 days of 4), not the reorder point: four a day every day
            // is base stock, ordered at every review.
            let lowStockLevel = try #require(forecast.json["low_stock_level"] as? Double)
            #expect(lowStockLevel > 8 && lowStockLevel < 20 && lowStockLevel < reorderPoint, "about two days of demand plus safety stock: \(lowStockLevel)")

            // 832 on hand is overstock; an adjustment to just above the low-stock level clears it. It is below the
            // reorder point: the plan orders at the review, and no alert says the shelf is low.
            #expect(try await eventually { try await client.call(.get, "/v1/alerts?store_id=S1&kind=overstock&status=open").items.count == 1 })
            let above = Int(lowStockLevel) + 2
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"quantity": \#(above), "reason": "adjustment"}"#)
            #expect(try await eventually { try await client.call(.get, "/v1/alerts?store_id=S1&kind=overstock&status=resolved").items.count == 1 })
            #expect(try await client.call(.get, "/v1/alerts?store_id=S1&kind=low_stock").items.isEmpty)
            #expect((try await client.call(.get, "/v1/stores/S1/replenishment").json["orders"] as? [[String: Any]])?.count == 1)
            let item = try await client.call(.get, "/v1/stores/S1/items").items.first
            #expect(item?["status"] as? String == "ok" && item?["low_stock_level"] as? Double == lowStockLevel, "\(String(describing: item))")

            // A sale that crosses the low-stock level raises one low-stock alert; another sale does not raise a second.
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -3, "reason": "sale"}"#)
            #expect(try await eventually { try await client.call(.get, "/v1/alerts?kind=low_stock").items.count == 1 })
            // No wait here for the second sale's evaluation: that it raises no second alert is proven below, by the
            // count of alerts after the receipt's resolution (a later movement of the same pair, evaluated in order).
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
            let lowStock = try await client.call(.get, "/v1/alerts?kind=low_stock").items
            #expect(lowStock.count == 1)
            let alert = try #require(lowStock.first)
            #expect(alert["status"] as? String == "open")
            #expect(alert["store_id"] as? String == "S1")
            #expect(alert["threshold"] as? Double == lowStockLevel)
            let id = try #require(alert["alert_id"] as? String)

            // Replenishment: order up to the order-up-to level in whole packs, or move York's excess first.
            let plan = try await client.call(.get, "/v1/stores/S1/replenishment")
            let order = try #require((plan.json["orders"] as? [[String: Any]])?.first)
            let onHand = try #require(order["on_hand"] as? Int)
            let quantity = try #require(order["quantity"] as? Int)
            #expect(quantity % 6 == 0 && Double(onHand + quantity) >= orderUpTo && Double(onHand + quantity) < orderUpTo + 6)
            _ = try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 500, "reason": "receipt"}"#)
            // York has no sales history: its thresholds are zero once computed, so all 500 are excess. The thresholds
            // are computed after the commit on the primary, and the excess is read from the replica (in the
            // production shape): wait for the answer asserted, the plan holding York's transfer, not for the primary.
            var withTransfer = try await client.call(.get, "/v1/stores/S1/replenishment")
            #expect(try await eventually(seconds: 60) {
                withTransfer = try await client.call(.get, "/v1/stores/S1/replenishment")
                return (withTransfer.json["transfers"] as? [[String: Any]])?.isEmpty == false
            })
            let transfer = try #require((withTransfer.json["transfers"] as? [[String: Any]])?.first)
            #expect(transfer["from_store_id"] as? String == "S2")
            #expect(Double(transfer["quantity"] as? Int ?? 0) == (orderUpTo.rounded(.up) - Double(onHand)))
            #expect((withTransfer.json["orders"] as? [[String: Any]])?.first?["quantity"] as? Int == 0)

            // Acknowledge, then a receipt resolves it.
            let acknowledged = try await client.call(.post, "/v1/alerts/\(id)/acknowledge")
            #expect(acknowledged.string("status") == "acknowledged")
            #expect(acknowledged.string("acknowledged_by") == "admin")
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 60, "reason": "receipt"}"#)
            #expect(try await eventually { try await client.call(.get, "/v1/alerts?kind=low_stock&status=resolved").items.count == 1 })
            #expect(try await client.call(.get, "/v1/alerts?kind=low_stock").items.count == 1, "still one alert, now resolved (the second sale raised none)")
            #expect(try await client.call(.post, "/v1/alerts/\(id)/acknowledge").status == 409)
            // Wait for the relay to publish the alert events.
            _ = try await eventually { try await system.store.eventOutboxBatch(limit: 1).isEmpty }
            return id
        }
        var statuses: [String] = []
        var iterator = alertEvents.makeAsyncIterator()
        while statuses.count < 3, let event = await iterator.next() {
            if event.id.hasPrefix(alertID) { statuses.append(String(event.id.dropFirst(alertID.count + 1))) }
            let json = try JSONSerialization.jsonObject(with: Data(event.payload.utf8)) as! [String: Any]
            #expect(json["type"] as? String == "bazaar.stock.alert")
            #expect(Set((json["data"] as! [String: Any]).keys).isSuperset(of: ["alert_id", "kind", "store_id", "product_id", "quantity", "threshold", "message", "at"]))
        }
        #expect(statuses == ["open", "acknowledged", "resolved"])
    }

    @Test func alertQueriesAreCheckedAndScoped() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            #expect(try await client.call(.get, "/v1/alerts?kind=sad").status == 400)
            #expect(try await client.call(.get, "/v1/alerts?status=closed").status == 400)
            #expect(try await client.call(.get, "/v1/stores/S1/products/P1/forecast?horizon=0").status == 400)
            #expect(try await client.call(.get, "/v1/stores/S9/products/P1/forecast").status == 404)
            #expect(try await client.call(.post, "/v1/alerts/alr_missing/acknowledge").status == 404)
            let storeKey = try await client.key(role: "store", stores: ["S1"])
            #expect(try await client.call(.get, "/v1/alerts", key: storeKey).status == 403)
            #expect(try await client.call(.get, "/v1/alerts?store_id=S1", key: storeKey).status == 200)
            #expect(try await client.call(.get, "/v1/stores/S2/replenishment", key: storeKey).status == 403)
            let forecast = try await client.call(.get, "/v1/stores/S1/products/P1/forecast", key: storeKey)
            #expect(forecast.status == 200)
            #expect(forecast.json["computed_at"] is NSNull, "not evaluated yet, and the answer says so: \(forecast.body)")
        }
    }
}
