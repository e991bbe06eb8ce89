import BazaarApp
import BazaarDomain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A warm `GET /get-stock` is answered from memory ahead of the route (issue 15): on the connection, before the
/// router (`WarmReadHandler`), and as the route's first middleware (`WarmReadMiddleware`). These tests hold both to the
/// full path: the same answer, and every case the full path refuses (or must answer from storage) left to it. Each
/// runs through the router alone and through the live HTTP server (`onTheConnection`), and counts the reads answered
/// from memory, so a fast path that silently stopped answering, or one that answered a request it must not, fails
/// here. They run on every backend of the suite (SQLite; MariaDB with its replica and Redis in the production-shape
/// pass).
@Suite("Warm reads answered from memory, exactly as the full path answers them", .ownConsistencyTokens)
struct WarmReadTests {
    /// What a consistency token makes the full path answer (storage, past every cache): the write's own token where
    /// the deployment answers one (MariaDB), else any short value, which SQLite ignores.
    static func token(of write: Reply) -> String { write.headers[.bazaarConsistency] ?? "0" }

    /// The fields two answers of the same read share: not the request id, the date, nor the bucket's state.
    static func comparable(_ headers: HTTPFields) -> [String] {
        headers.filter { !["x-request-id", "date", "ratelimit-remaining", "ratelimit-reset"].contains($0.name.canonicalName) }
            .map { "\($0.name.canonicalName): \($0.value)" }.sorted()
    }

    @Test(arguments: [false, true])
    func aWarmReadIsAnsweredFromMemoryExactlyAsTheFullPathAnswersIt(onTheConnection: Bool) async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url, live: onTheConnection) { system, client in
            let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 7, "reason": "receipt"}"#)
            #expect(write.status == 200)
            let reader = try await client.key(role: "reader")
            // Until the key and the level are held (the level filled by the write here, else by a first read; each held
            // for 5 s in the production shape), reads go the full way: read until one is answered from memory.
            let connectionBefore = system.router.readsFromMemory.onTheConnection
            let warm = try #require(try await Self.answeredFromMemory(system, client, "/get-stock/S1/P1", key: reader))
            // Through the server, the plain read is the connection's to answer; the router alone never sees one.
            #expect(system.router.readsFromMemory.onTheConnection == connectionBefore + (onTheConnection ? 1 : 0))
            let counted = system.router.readsFromMemory.count
            let full = try await client.call(.get, "/get-stock/S1/P1", key: reader, headers: [.bazaarConsistency: Self.token(of: write)])
            #expect(system.router.readsFromMemory.count == counted, "a read with a consistency token goes to storage")
            #expect(warm.status == 200 && full.status == 200)
            #expect(warm.body == full.body)
            #expect(warm.int("quantity") == 7 && warm.string("store_id") == "S1" && warm.string("product_id") == "P1")
            #expect(Self.comparable(warm.headers) == Self.comparable(full.headers))
            for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-Request-Id"] + (onTheConnection ? ["Date", "Server"] : []) {
                #expect(warm.headers[HTTPField.Name(name)!] != nil, "\(name) missing from the answer from memory")
            }
            #expect(warm.headers[HTTPField.Name("X-Request-Id")!] != full.headers[HTTPField.Name("X-Request-Id")!])
            // Percent-encoded identifiers read as the route reads them: `%50%31` is P1 (the route's middleware answers).
            let viaTheConnection = system.router.readsFromMemory.onTheConnection
            let encoded = try await Self.answeredFromMemory(system, client, "/get-stock/S1/%50%31", key: reader)
            #expect(encoded?.body == full.body)
            #expect(system.router.readsFromMemory.onTheConnection == viaTheConnection)
        }
    }

    /// Reads `path` until a read of it is answered from memory (the router's count moves by one), and answers that
    /// read; nil if none was within 60 s (each read the full way holds the key and the level again). Every read on the
    /// way must answer what the last one did.
    static func answeredFromMemory(_ system: BazaarSystem, _ client: some TestClientProtocol, _ path: String, key: String) async throws -> Reply? {
        var answer: Reply?
        let found = try await eventually(seconds: 60) {
            let before = system.router.readsFromMemory.count
            let reply = try await client.call(.get, path, key: key, sendingConsistencyToken: false)
            #expect(reply.status == 200, "\(path): \(reply.body)")
            answer = reply
            return system.router.readsFromMemory.count == before + 1
        }
        return found ? answer : nil
    }

    /// Every refusal is the full path's own, and none is counted as a read from memory: unknown, revoked and other
    /// stores' keys, a pair outside the catalog, invalid identifiers (invalid UTF-8 included), paths with a segment
    /// more, several Authorization fields.
    @Test(arguments: [false, true])
    func refusalsGoTheFullWayAndAreAnsweredAsBefore(onTheConnection: Bool) async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url, live: onTheConnection) { system, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
            _ = try await client.call(.post, "/update-stock/S2/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
            let created = try await client.call(.post, "/v1/api-keys", body: #"{"name":"s1-clerk","role":"store","stores":["S1"]}"#)
            let storeKey = try #require(created.string("key")), storeKeyID = try #require(created.string("id"))
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: storeKey, sendingConsistencyToken: false).status == 200)
            let counted = system.router.readsFromMemory.count
            let refused: [(String, String?, HTTPFields, Int)] = [
                ("/get-stock/S2/P1", storeKey, [:], 403),
                ("/get-stock/S1/P1", "bz_not-a-key-of-this-deployment", [:], 401),
                ("/get-stock/S1/P1", nil, [:], 401),
                ("/get-stock/S1/NOPE", storeKey, [:], 404),
                ("/get-stock/S1/%FF", storeKey, [:], 400),
                ("/get-stock/S1/%", storeKey, [:], 400),
                ("/get-stock/S1/P!", storeKey, [:], 400),
                ("/get-stock/S1/P1/extra", storeKey, [:], 404),
                ("/get-stock/S1/P1", nil, HTTPFields([HTTPField(name: .authorization, value: "Bearer \(storeKey)"),
                                                      HTTPField(name: .authorization, value: "Bearer \(storeKey)")]), 401),
            ]
            for (path, key, headers, status) in refused {
                let reply = try await client.call(.get, path, key: key, headers: headers, sendingConsistencyToken: false)
                #expect(reply.status == status, "\(path): \(reply.status) \(reply.body)")
                #expect(reply.isProblem, "\(path): \(reply.body)")
            }
            #expect(system.router.readsFromMemory.count == counted, "a refusal was answered from memory")
            // A revoked key is refused at once, though this node held it in memory.
            #expect(try await client.call(.delete, "/v1/api-keys/\(storeKeyID)").status == 204)
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: storeKey, sendingConsistencyToken: false).status == 401)
            #expect(system.router.readsFromMemory.count == counted)
        }
    }

    /// The rate limit holds whichever path answers: a key with ten tokens gets ten reads, then 429 with
    /// `Retry-After` from the full path (with Redis, the node's lease is spent here and renewed there).
    @Test(arguments: [false, true])
    func theRateLimitHoldsAcrossBothPaths(onTheConnection: Bool) async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url, rate: 0.001, burst: 10, seed: false, live: onTheConnection) { system, client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name":"s"}"#)
            _ = try await client.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
            let key = try await system.keys.create(name: "ten-reads", role: .reader, stores: []).key
            var statuses: [Int] = []
            for _ in 0..<12 {
                let reply = try await client.call(.get, "/get-stock/S1/P1", key: key, sendingConsistencyToken: false)
                statuses.append(reply.status)
                if reply.status == 429 { #expect(reply.headers[.retryAfter] != nil) }
            }
            #expect(statuses == Array(repeating: 200, count: 10) + [429, 429], "\(statuses)")
            // With buckets in this process, reads 2-10 are answered from memory and the 11th is refused by the full path
            // (a key's first read looks it up, and again whenever its 5 s in memory ran out on a slow machine); Redis
            // leases one token at a time at this rate, so there it is every read.
            if !Backend.withRedis { #expect((1...9).contains(system.router.readsFromMemory.count)) }
        }
    }
}
