import BazaarCore
import BazaarDomain
import Foundation
import Testing

/// Reservations and the inventory states through the HTTP API (the engine of the run: SQLite, or MariaDB with
/// `BAZAAR_TEST_BACKEND=mariadb`, and Redis with `BAZAAR_TEST_WITH_REDIS=1`).
@Suite(.ownConsistencyTokens) struct ReservationHTTPTests {
    @Test func reservationsThroughTheAPIKeepReservedAvailableAndTheLedgerInStep() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            let events = system.bus.subscribe(topic: MovementEvent.topic)
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 5, "reason": "receipt"}"#)
            let create = #"{"store_id": "S1", "product_id": "P1", "quantity": 3, "reference": "order-1"}"#
            let made = try await client.call(.post, "/v1/reservations", body: create, headers: [.init("Idempotency-Key")!: "r-1"])
            #expect(made.status == 201, "\(made.body)")
            #expect(Set(made.json.keys) == ["reservation_id", "store_id", "product_id", "quantity", "status", "reference", "expires_at",
                                            "created_at", "updated_at", "movement_id"])
            let id = try #require(made.string("reservation_id"))
            #expect(made.string("status") == "active" && made.int("quantity") == 3 && made.string("reference") == "order-1")
            let expires = try #require(RFC3339.parse(made.string("expires_at") ?? ""))
            let created = try #require(RFC3339.parse(made.string("created_at") ?? ""))
            #expect(expires - created == 900_000, "the default expiry is 900 s")
            // A retry with the same key: the same reservation, made once.
            let retry = try await client.call(.post, "/v1/reservations", body: create, headers: [.init("Idempotency-Key")!: "r-1"])
            #expect(retry.status == 200 && retry.string("reservation_id") == id && retry.headers[.init("Idempotent-Replayed")!] == "true")
            let reused = try await client.call(.post, "/v1/reservations", body: #"{"store_id": "S1", "product_id": "P1", "quantity": 1}"#,
                                               headers: [.init("Idempotency-Key")!: "r-1"])
            #expect(reused.status == 422 && reused.string("type") == "/problems/idempotency-key-reused")

            let stock = try await client.call(.get, "/get-stock/S1/P1")
            #expect(stock.int("quantity") == 5 && stock.int("reserved") == 3 && stock.int("available") == 2 && stock.int("incoming") == 0)
            #expect(stock.int("version") == 1, "a reservation is no ledger row")
            let listing = try await client.call(.get, "/v1/stores/S1/stock")
            #expect(listing.items.first?["reserved"] as? Int == 3 && listing.items.first?["available"] as? Int == 2)
            let byProduct = try await client.call(.get, "/v1/products/P1/stock")
            #expect(byProduct.items.first?["available"] as? Int == 2)

            let short = try await client.call(.post, "/v1/reservations", body: #"{"store_id": "S1", "product_id": "P1", "quantity": 3}"#)
            #expect(short.status == 409 && short.isProblem && short.string("type") == "/problems/insufficient-available")
            #expect(short.int("available") == 2 && short.int("requested") == 3)
            let damage = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -3, "reason": "damage"}"#)
            #expect(damage.status == 409 && damage.string("type") == "/problems/insufficient-stock" && damage.int("available") == 2)

            let fulfilled = try await client.call(.post, "/v1/reservations/\(id)/fulfil")
            #expect(fulfilled.status == 200 && fulfilled.string("status") == "fulfilled", "\(fulfilled.body)")
            let movementID = try #require(fulfilled.string("movement_id"))
            let audit = try await client.call(.get, "/audit-logs?store_id=S1&limit=1")
            #expect(audit.items.first?["movement_id"] as? String == movementID)
            #expect(audit.items.first?["reason"] as? String == "sale" && audit.items.first?["reference"] as? String == id)
            #expect(audit.items.first?["delta"] as? Int == -3)
            let after = try await client.call(.get, "/get-stock/S1/P1")
            #expect(after.int("quantity") == 2 && after.int("reserved") == 0 && after.int("available") == 2 && after.int("version") == 2)
            let again = try await client.call(.post, "/v1/reservations/\(id)/release")
            #expect(again.status == 409 && again.string("type") == "/problems/reservation-not-active" && again.string("reservation_status") == "fulfilled")
            #expect(try await client.call(.get, "/v1/reservations/\(id)").string("status") == "fulfilled")

            let second = try await client.call(.post, "/v1/reservations",
                                               body: #"{"store_id": "S1", "product_id": "P1", "quantity": 2, "expires_in_seconds": 60}"#)
            let secondID = try #require(second.string("reservation_id"))
            let released = try await client.call(.post, "/v1/reservations/\(secondID)/release")
            #expect(released.status == 200 && released.string("status") == "released" && released.json["movement_id"] is NSNull)
            #expect(try await client.call(.get, "/get-stock/S1/P1").int("available") == 2)

            // Every change an event on the movements topic, after the movements' own.
            var seen: [String: String] = [:]
            var iterator = events.makeAsyncIterator()
            while seen.count < 4, let event = await iterator.next() {
                let json = try JSONSerialization.jsonObject(with: Data(event.payload.utf8)) as! [String: Any]
                guard json["type"] as? String == "bazaar.stock.reservation" else { continue }
                let data = json["data"] as! [String: Any]
                #expect(json["source"] as? String == "/stores/S1" && event.key == "S1" && json["id"] as? String == event.id)
                seen[event.id] = data["status"] as? String
            }
            #expect(seen == ["\(id):active": "active", "\(id):fulfilled": "fulfilled", "\(secondID):active": "active",
                             "\(secondID):released": "released"])
        }
    }

    @Test func aFactOverReservedStockIsRecordedAndOpensAnAlert() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S2/P2", body: #"{"delta": 4, "reason": "receipt"}"#)
            #expect(try await client.call(.post, "/v1/reservations", body: #"{"store_id": "S2", "product_id": "P2", "quantity": 4}"#).status == 201)
            let sale = try await client.call(.post, "/update-stock/S2/P2", body: #"{"delta": -1, "reason": "sale"}"#)
            #expect(sale.status == 200 && sale.int("quantity") == 3)
            #expect(try await client.call(.get, "/get-stock/S2/P2").int("available") == -1)
            let alerts = try await client.call(.get, "/v1/alerts?store_id=S2&kind=over_reserved")
            #expect(alerts.status == 200 && alerts.items.count == 1, "\(alerts.body)")
            #expect(alerts.items.first?["product_id"] as? String == "P2" && alerts.items.first?["status"] as? String == "open")
        }
    }

    @Test func listingFiltersAndPagesAndBadInputIsAClearProblem() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 50, "reason": "receipt"}"#)
            _ = try await client.call(.post, "/update-stock/S3/P1", body: #"{"delta": 50, "reason": "receipt"}"#)
            var ids: [String] = []
            for store in ["S1", "S3", "S1", "S1", "S3"] {
                let r = try await client.call(.post, "/v1/reservations", body: #"{"store_id": "\#(store)", "product_id": "P1", "quantity": 1}"#)
                ids.append(try #require(r.string("reservation_id")))
            }
            _ = try await client.call(.post, "/v1/reservations/\(ids[2])/release")
            var pages: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.call(.get, "/v1/reservations?store_id=S1&limit=2" + (cursor.map { "&cursor=" + $0 } ?? ""))
                #expect(page.status == 200)
                pages += page.items.compactMap { $0["reservation_id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(pages == [ids[3], ids[2], ids[0]])
            let active = try await client.call(.get, "/v1/reservations?store_id=S1&product_id=P1&status=active")
            #expect(active.items.compactMap { $0["reservation_id"] as? String } == [ids[3], ids[0]])
            #expect(try await client.call(.get, "/v1/reservations").items.count == 5)

            // A store key sees and changes only its stores.
            let s3 = try await client.key(role: "store", stores: ["S3"])
            #expect(try await client.call(.get, "/v1/reservations", key: s3).status == 403)
            #expect(try await client.call(.get, "/v1/reservations?store_id=S3", key: s3).items.count == 2)
            #expect(try await client.call(.post, "/v1/reservations/\(ids[0])/fulfil", key: s3).status == 403)
            #expect(try await client.call(.post, "/v1/reservations", key: s3, body: #"{"store_id": "S1", "product_id": "P1", "quantity": 1}"#).status == 403)
            let reader = try await client.key(role: "reader")
            #expect(try await client.call(.post, "/v1/reservations/\(ids[1])/release", key: reader).status == 403)
            #expect(try await client.call(.get, "/v1/reservations/\(ids[1])", key: reader).status == 200)

            let bad: [(String, Int)] = [
                (#"{"store_id": "S1", "product_id": "P1", "quantity": 0}"#, 422),
                (#"{"store_id": "S1", "product_id": "P1", "quantity": -2}"#, 422),
                (#"{"store_id": "S1", "product_id": "P1", "quantity": 1.5}"#, 422),
                (#"{"store_id": "S1", "product_id": "P1", "quantity": 1, "expires_in_seconds": 59}"#, 422),
                (#"{"store_id": "S1", "product_id": "P1", "quantity": 1, "expires_in_seconds": 604801}"#, 422),
                (#"{"store_id": "S1", "product_id": "P1", "quantity": 1, "color": "red"}"#, 422),
                (#"{"store_id": "S1", "product_id": "P1"}"#, 422),
                (#"{"store_id": "S 1", "product_id": "P1", "quantity": 1}"#, 422),
                (#"{"store_id": "S9", "product_id": "P1", "quantity": 1}"#, 404),
                (#"{"store_id": "S1", "product_id": "P9", "quantity": 1}"#, 404),
                (#"[1, 2]"#, 422),
                (#"{"store_id": "S1", "product_id": "P1", "quantity": 1, "reference": "\#(String(repeating: "x", count: 129))"}"#, 422),
            ]
            for (body, status) in bad {
                let reply = try await client.call(.post, "/v1/reservations", body: body)
                #expect(reply.status == status && reply.isProblem, "\(body): \(reply.status) \(reply.body)")
            }
            for uri in ["/v1/reservations?status=gone", "/v1/reservations?limit=0", "/v1/reservations?cursor=zz", "/v1/reservations?store_id=a%20b"] {
                #expect(try await client.call(.get, uri).status == 400, "\(uri)")
            }
            #expect(try await client.call(.get, "/v1/reservations/rsv_nothing").status == 404)
            #expect(try await client.call(.post, "/v1/reservations/rsv_nothing/fulfil").status == 404)
            #expect(try await client.call(.get, "/get-stock/S1/P1").int("reserved") == 2, "nothing refused was applied")
        }
    }

    /// A reservation past its `expires_at` while no node ran is expired by the next start's sweep, once.
    @Test func aReservationDueDuringARestartExpiresAfterIt() async throws {
        let db = TestDatabase()
        let first = try await Harness.system(db.url)
        // The application's end stops its services and closes the store: the node is gone.
        let due = try await first.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "a"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "b"}"#)
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 6}"#)
            // Made through the store with an expiry shorter than the API allows (the API's minimum is 60 s).
            let now = WallClock.system.nowMillis()
            let due = try await first.reservations.store.createReservation(
                Reservation(id: ReservationID.next(), storeID: "S1", productID: "P1", quantity: 5, status: .active, reference: nil,
                            expiresAtMillis: now + 1500, createdAtMillis: now, updatedAtMillis: now), idempotency: nil)
            #expect(due.level?.available == 1)
            return due
        }
        let second = try await Harness.system(db.url)
        try await second.application().test(.router) { client in
            // The node's own expiry service, every second: no sweep called by hand.
            #expect(try await eventually(seconds: 30) {
                try await client.call(.get, "/v1/reservations/\(due.reservation.id)").string("status") == "expired"
            })
            let stock = try await client.call(.get, "/get-stock/S1/P1")
            #expect(stock.int("reserved") == 0 && stock.int("available") == 6)
            #expect(try await second.reservations.store.activeReservedTotal(storeID: "S1", productID: "P1") == 0)
        }
    }
}
