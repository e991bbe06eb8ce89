import BazaarApp
import Foundation
import HummingbirdTesting
import Testing

/// Issue 11: what hostile clients can make the service spend before they are refused.
@Suite("Abuse limits: consistency tokens on SQLite, requests per address before authentication", .ownConsistencyTokens)
struct AbuseLimitTests {
    /// SQLite answers no consistency token (no replicas: every read sees every write), and ignores one sent, forged
    /// or malformed, without parsing it: it can make nothing wait.
    @Test func onSQLiteAConsistencyHeaderIsIgnoredAndNoneIsAnswered() async throws {
        let db = TestDatabase(.sqlite)
        // A wait for a replica, were there one, would be two minutes here: told apart from no wait by a margin no
        // loaded machine closes (a 2 s bound met a stalled test task in CI).
        try await Harness.withApp(db.url, configure: { $0.replicaWaitMillis = 120_000 }) { _, client in
            let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 3, "reason": "receipt"}"#)
            #expect(write.status == 200 && write.headers[.bazaarConsistency] == nil)
            for forged in ["0-1-999999999", "0-1-999999999.00000000000000000000000000000000", "--", "not a token"] {
                let started = ContinuousClock.now
                let read = try await client.call(.get, "/get-stock/S1/P1", headers: [.bazaarConsistency: forged])
                #expect(read.status == 200 && read.int("quantity") == 3, "\(forged): \(read.body)")
                #expect(ContinuousClock.now - started < .seconds(60), "no wait of any kind (the margin is for a loaded machine)")
            }
        }
    }

    /// A flood from one address is refused before authentication: past the burst, keyless requests, guessed keys
    /// and good keys alike get 429 `address-rate-limited` with `Retry-After`, and no key is looked up for them
    /// (the failed-authentication count does not move). Before: every guess cost a hash and a query, unthrottled.
    @Test func aFloodFromOneAddressIsRefusedBeforeAuthentication() async throws {
        let db = TestDatabase(.sqlite)
        var configuration = Harness.configuration(db.url)
        // Almost no refill (one token in 1,000 s): the test does not depend on how fast a loaded machine sends.
        configuration.httpAddressRateLimitRate = 0.001
        configuration.httpAddressRateLimitBurst = 20
        let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
        try await system.application().test(.router) { client in
            var statuses: [Int] = []
            for i in 0..<30 {
                statuses.append(try await client.call(.get, "/get-stock/S1/P1", key: i % 2 == 0 ? nil : "guess-\(i)").status)
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == 401 }, "\(statuses)")
            #expect(statuses.suffix(10).allSatisfy { $0 == 429 }, "\(statuses)")
            let refused = try await client.call(.get, "/get-stock/S1/P1")
            #expect(refused.status == 429 && refused.isProblem && refused.body.contains("address-rate-limited"), "\(refused.body)")
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // Unauthenticated routes too: the limit is in front of everything.
            #expect(try await client.call(.get, "/health/live", key: nil).status == 429)
        }
        try await system.store.close()
    }

    @Test func theAddressLimitIsOnByDefaultAndGenerous() {
        #expect(BazaarConfiguration().httpAddressRateLimitRate == 100_000 && BazaarConfiguration().httpAddressRateLimitBurst == 200_000)
    }
}
