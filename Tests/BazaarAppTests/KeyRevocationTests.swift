import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import Synchronization
import Testing

/// `DELETE /v1/api-keys/{id}` revokes at once (DESIGN.md), on every node: a node trusts a key it has looked up for
/// 5 s, so without a notice another node would keep accepting a revoked key that long.
@Suite("API key revocation reaches every node", .ownConsistencyTokens, .serialized)
struct KeyRevocationTests {
    /// Node B's clock runs a hundred times slower than time: its 5 s of trust in a key last eight minutes, so only the
    /// notice through Redis can make it refuse the key within the test's wait.
    @Test(.enabled(if: RedisTestServer.url != nil, "needs BAZAAR_TEST_REDIS_URL"))
    func aKeyRevokedOnOneNodeIsRefusedByTheOther() async throws {
        let db = TestDatabase()
        let nodeA = try await RedisTestServer.system(db.url)
        let start = WallClock.system.nowMillis()
        let slow = WallClock { start + (WallClock.system.nowMillis() - start) / 100 }
        let nodeB = try await RedisTestServer.system(db.url, nearMaxAgeMillis: 3_600_000, clock: slow)
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                try await RedisTestServer.seed(a)
                let made = try await a.call(.post, "/v1/api-keys", body: #"{"name": "till-9", "role": "store", "stores": ["S1"]}"#)
                let key = try #require(made.string("key")), id = try #require(made.string("id"))
                // B subscribed to Redis: it hears A's levels (its near cache would otherwise hold one for an hour).
                #expect(try await eventually(seconds: 60) {
                    _ = try await b.call(.get, "/get-stock/S1/P1", key: key)
                    let written = try await a.call(.post, "/update-stock/S1/P1", key: key, body: #"{"delta": 1, "reason": "receipt"}"#).int("version")
                    return try await eventually(seconds: 2) { try await b.call(.get, "/get-stock/S1/P1", key: key).int("version") == written }
                }, "node B never heard node A through Redis")
                #expect(try await b.call(.get, "/get-stock/S1/P1", key: key).status == 200, "B trusts the key")
                #expect(try await a.call(.delete, "/v1/api-keys/\(id)").status == 204)
                #expect(try await a.call(.get, "/get-stock/S1/P1", key: key).status == 401, "refused at once where revoked")
                #expect(try await eventually(seconds: 30) { try await b.call(.get, "/get-stock/S1/P1", key: key).status == 401 },
                        "B still accepts the revoked key")
                let write = try await b.call(.post, "/update-stock/S1/P1", key: key, body: #"{"delta": 1, "reason": "receipt"}"#)
                #expect(write.status == 401 && write.isProblem)
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    /// A lookup that read the key from storage before its revocation was heard must not put it back in memory when
    /// it finishes after: the notice came between the query and its answer.
    @Test func aLookupInFlightWhenARevocationArrivesDoesNotRememberTheKey() async throws {
        let db = TestDatabase()
        let system = try await Harness.system(db.url)
        let gate = GatedKeys(system.store)
        let keys = APIKeyService(store: gate)
        let issued = try await keys.create(name: "till-3", role: .reader, stores: [])
        gate.holding.withLock { $0 = true }
        async let looked = keys.lookup(key: issued.key)
        #expect(try await eventually(seconds: 10) { gate.waiting.withLock { $0 } }, "the lookup reached storage")
        keys.forget(keyID: issued.record.id)  // the notice arrives while the query is out
        gate.holding.withLock { $0 = false }
        #expect(try await looked.principal != nil, "the answer read before the revocation stands")
        #expect(keys.principalInMemory(key: issued.key) == nil, "but it is not trusted from memory afterwards")
        #expect(try await keys.lookup(key: issued.key).queried, "the next request asks storage again")
        try await system.store.close()
    }
}

/// Storage of API keys whose `apiKey(hash:)` waits while `holding` is set.
final class GatedKeys: APIKeyStore {
    let inner: any APIKeyStore
    let holding = Mutex(false)
    let waiting = Mutex(false)
    init(_ inner: any APIKeyStore) { self.inner = inner }

    func apiKey(hash: String) async throws -> APIKeyRecord? {
        waiting.withLock { $0 = true }
        while holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        return try await inner.apiKey(hash: hash)
    }
    func insertAPIKey(_ record: APIKeyRecord) async throws { try await inner.insertAPIKey(record) }
    func insertAPIKeyNamedUniquely(_ record: APIKeyRecord) async throws { try await inner.insertAPIKeyNamedUniquely(record) }
    func apiKeys(skipping: Int, limit: Int) async throws -> [APIKeyRecord] { try await inner.apiKeys(skipping: skipping, limit: limit) }
    func activeAPIKeys(named name: String, role: Role) async throws -> [APIKeyRecord] { try await inner.activeAPIKeys(named: name, role: role) }
    func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool { try await inner.revokeAPIKey(id: id, atMillis: atMillis) }
    func hasActiveAdminKey() async throws -> Bool { try await inner.hasActiveAdminKey() }
}
