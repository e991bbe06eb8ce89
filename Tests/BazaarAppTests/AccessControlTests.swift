import Foundation
import HTTPTypes
import Testing

@Suite("API keys and roles: every role against every endpoint")
struct AccessControlTests {
    /// (method, uri, body, roles allowed). Everything else must be 403, and 401 without a key.
    static let endpoints: [(String, String, String?, Set<String>)] = [
        ("POST", "/update-stock/S1/P1", #"{"delta": 1}"#, ["admin", "manager", "store"]),
        ("POST", "/update-stock/S2/P1", #"{"delta": 1}"#, ["admin", "manager"]),
        ("GET", "/get-stock/S1/P1", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/get-stock/S2/P1", nil, ["admin", "manager", "reader"]),
        ("GET", "/audit-logs", nil, ["admin", "manager", "reader"]),
        ("GET", "/audit-logs?store_id=S1", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/audit-logs?store_id=S2", nil, ["admin", "manager", "reader"]),
        ("POST", "/v1/movements", #"{"movements": [{"store_id": "S1", "product_id": "P2", "delta": 1}]}"#, ["admin", "manager", "store"]),
        ("POST", "/v1/movements", #"{"movements": [{"store_id": "S1", "product_id": "P2", "delta": 1}, {"store_id": "S2", "product_id": "P2", "delta": 1}]}"#, ["admin", "manager"]),
        ("POST", "/v1/transfers", #"{"from_store_id": "S3", "to_store_id": "S2", "product_id": "P3", "quantity": 1}"#, ["admin", "manager"]),
        ("GET", "/v1/stores/S1/stock", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/v1/stores/S2/stock", nil, ["admin", "manager", "reader"]),
        ("GET", "/v1/products/P1/stock", nil, ["admin", "manager", "reader"]),
        ("GET", "/v1/changes", nil, ["admin", "manager", "reader"]),
        ("GET", "/v1/stores", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/v1/stores/S1", nil, ["admin", "manager", "store", "reader"]),
        ("PUT", "/v1/stores/S7", #"{"name": "New"}"#, ["admin", "manager"]),
        ("GET", "/v1/products", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/v1/products/P1", nil, ["admin", "manager", "store", "reader"]),
        ("PUT", "/v1/products/P7", #"{"name": "New"}"#, ["admin", "manager"]),
        ("POST", "/v1/api-keys", #"{"name": "x", "role": "reader"}"#, ["admin"]),
        ("GET", "/v1/api-keys", nil, ["admin"]),
        ("DELETE", "/v1/api-keys/key_doesnotexist", nil, ["admin"]),  // admin: 404, the others: 403
        ("GET", "/v1/alerts", nil, ["admin", "manager", "reader"]),
        ("GET", "/v1/alerts?store_id=S1", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/v1/stores/S1/products/P1/forecast", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/v1/stores/S2/products/P1/forecast", nil, ["admin", "manager", "reader"]),
        ("GET", "/v1/stores/S1/replenishment", nil, ["admin", "manager", "store", "reader"]),
        ("GET", "/v1/stores/S2/replenishment", nil, ["admin", "manager", "reader"]),
    ]

    @Test func everyRoleIsAllowedOrRefusedAsDesignSays() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S3/P3", body: #"{"quantity": 1000}"#)
            let keys = [
                "admin": adminKey,
                "manager": try await client.key(role: "manager"),
                "store": try await client.key(role: "store", stores: ["S1"]),
                "reader": try await client.key(role: "reader"),
            ]
            for (method, uri, body, allowed) in Self.endpoints {
                for (role, key) in keys.sorted(by: { $0.key < $1.key }) {
                    let reply = try await client.call(.init(rawValue: method)!, uri, key: key, body: body)
                    if allowed.contains(role) {
                        let ok = (200..<300).contains(reply.status) || (uri.hasSuffix("doesnotexist") && reply.status == 404)
                        #expect(ok, "\(role) \(method) \(uri) -> \(reply.status) \(reply.body)")
                    } else {
                        #expect(reply.status == 403, "\(role) \(method) \(uri) -> \(reply.status)")
                        #expect(reply.isProblem)
                    }
                }
                let anonymous = try await client.call(.init(rawValue: method)!, uri, key: nil, body: body)
                #expect(anonymous.status == 401, "anonymous \(method) \(uri)")
                #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
                let wrong = try await client.call(.init(rawValue: method)!, uri, key: "not-a-key", body: body)
                #expect(wrong.status == 401)
            }
        }
    }

    /// The scheme is case-insensitive (RFC 9110 11.1), and nothing else passes for it: another scheme, a scheme
    /// without its space, a control character in its place, or the key alone.
    @Test func theBearerSchemeIsReadWithoutRegardToCaseAndNothingElse() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            // More than one space after the scheme is allowed (RFC 9110's `1*SP`).
            for scheme in ["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer  ", "bearer    "] {
                let reply = try await client.call(.get, "/get-stock/S1/P1", key: nil, headers: [.authorization: scheme + adminKey])
                #expect(reply.status == 200, "\(scheme): \(reply.status) \(reply.body)")
            }
            for header in ["Bearez \(adminKey)", "Bearer\t\(adminKey)", "Basic \(adminKey)", adminKey, "Bearer ", "Bearer   ", "B\u{e9}arer \(adminKey)"] {
                let reply = try await client.call(.get, "/get-stock/S1/P1", key: nil, headers: [.authorization: header])
                #expect(reply.status == 401 && reply.isProblem, "\(header.debugDescription): \(reply.status)")
            }
        }
    }

    @Test func revocationTakesEffectAtOnceAndActorIsTheKeyName() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let created = try await client.call(.post, "/v1/api-keys", body: #"{"name": "till-7", "role": "store", "stores": ["S1"]}"#)
            #expect(created.status == 201)
            #expect(Set(created.json.keys).isSuperset(of: ["id", "key", "name", "role", "stores"]))
            #expect(created.json["stores"] as? [String] == ["S1"])
            let key = try #require(created.string("key"))
            let id = try #require(created.string("id"))
            #expect(try await client.call(.post, "/update-stock/S1/P1", key: key, body: #"{"delta": 2}"#).status == 200)
            #expect(try await client.call(.get, "/audit-logs?store_id=S1").items.first?["actor"] as? String == "till-7")
            let listed = try await client.call(.get, "/v1/api-keys")
            #expect(!listed.body.contains(key), "the key itself is never shown again")
            #expect(try await client.call(.delete, "/v1/api-keys/\(id)").status == 204)
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: key).status == 401)
            #expect(try await client.call(.delete, "/v1/api-keys/\(id)").status == 404)
        }
    }

    /// The audit trail names a change's actor by its key's name, so two active keys cannot share one: the second is
    /// a 409 naming the field, even when both are sent at once; once the first is revoked, the name is free again
    /// (a till's key rotated).
    @Test(arguments: Backend.available)
    func anActiveKeysNameIsItsOwn(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        try await Harness.withApp(db.url) { _, client in
            let body = #"{"name": "till-8", "role": "store", "stores": ["S1"]}"#
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<12 { group.addTask { try await client.call(.post, "/v1/api-keys", body: body) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == 201 }.count == 1, "\(replies.map(\.status))")
            let refused = try #require(replies.first { $0.status != 201 })
            #expect(refused.status == 409 && refused.string("type") == "/problems/api-key-name-taken" && refused.string("field") == "name")
            let keys = try await client.call(.get, "/v1/api-keys")
            let named = keys.items.filter { $0["name"] as? String == "till-8" }
            #expect(named.count == 1)
            let id = try #require(named.first?["id"] as? String)
            #expect(try await client.call(.delete, "/v1/api-keys/\(id)").status == 204)
            #expect(try await client.call(.post, "/v1/api-keys", body: body).status == 201, "a revoked key's name is free")
        }
    }

    /// A chain with a key per till has thousands: the list pages as every listing does, oldest first.
    @Test func theKeysArePagedOldestFirst() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            for index in 1...5 {
                #expect(try await client.call(.post, "/v1/api-keys", body: #"{"name": "till-\#(index)", "role": "reader"}"#).status == 201)
            }
            var names: [String] = [], cursor: String?, pages = 0
            repeat {
                let page = try await client.call(.get, "/v1/api-keys?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == 200 && page.items.count <= 2, "\(page.body)")
                names += page.items.compactMap { $0["name"] as? String }
                cursor = page.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(names == ["admin", "till-1", "till-2", "till-3", "till-4", "till-5"], "\(names)")
            // A page that ends with the last key says so (no cursor to an empty page), and a cursor past the end reads
            // an empty page: each page is read from the database by position, not cut from every key read at once.
            let last = try await client.call(.get, "/v1/api-keys?limit=3&cursor=s3")
            #expect(last.items.compactMap { $0["name"] as? String } == ["till-3", "till-4", "till-5"] && last.json["next_cursor"] is NSNull, "\(last.body)")
            let beyond = try await client.call(.get, "/v1/api-keys?cursor=s999999999999999999")
            #expect(beyond.status == 200 && beyond.items.isEmpty && beyond.json["next_cursor"] is NSNull, "\(beyond.body)")
            #expect(try await client.call(.get, "/v1/api-keys?limit=0").status == 400)
        }
    }

    @Test func rateLimitAnswers429WithHeaders() async throws {
        let db = TestDatabase()
        // A slow refill (one token per 60 s), so that no token comes back while the four requests run, however
        // loaded the machine (one per 5 s came back once in CI, where the four took that long).
        try await Harness.withApp(db.url, rate: 1.0 / 60, burst: 3, seed: false) { _, client in
            // No consistency token: the harness would send the newest one of any test, which this system refuses
            // (400) after authentication has spent a token, then retry without it: two tokens for one request.
            var remaining: [String] = []
            for _ in 0..<3 {
                let reply = try await client.call(.get, "/v1/stores", sendingConsistencyToken: false)
                #expect(reply.status == 200)
                #expect(reply.headers[.init("RateLimit-Limit")!] == "3")
                remaining.append(reply.headers[.init("RateLimit-Remaining")!] ?? "?")
            }
            #expect(remaining == ["2", "1", "0"])
            let limited = try await client.call(.get, "/v1/stores", sendingConsistencyToken: false)
            #expect(limited.status == 429)
            #expect(limited.isProblem)
            #expect(limited.headers[.retryAfter].flatMap { Int($0) }.map { (1...60).contains($0) } == true)
            #expect(limited.headers[.init("RateLimit-Remaining")!] == "0")
            #expect(limited.headers[.init("RateLimit-Reset")!] != nil)
            // Health is not rate limited.
            #expect(try await client.call(.get, "/health/live", key: nil).status == 200)
        }
    }
}
