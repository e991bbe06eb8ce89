import BazaarApp
import Foundation
import HummingbirdTesting
import Testing

/// Issue 11: what hostile clients can make the service spend before they are refused.
@Suite("Abuse limits: consistency tokens on SQLite, requests per address before authentication")
struct AbuseLimitTests {
    /// SQLite answers no consistency token (no replicas: every read sees every write), and ignores one sent, forged
    /// or malformed, without parsing it: it can make nothing wait.
    @Test func onSQLiteAConsistencyHeaderIsIgnoredAndNoneIsAnswered() async throws {
        let db = TestDatabase(.sqlite)
        try await Harness.withApp(db.url) { _, client in
            let write = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 3, "reason": "receipt"}"#)
            #expect(write.status == 200 && write.headers[.bazaarConsistency] == nil)
            for forged in ["0-1-999999999", "0-1-999999999.00000000000000000000000000000000", "--", "not a token"] {
                let started = ContinuousClock.now
                let read = try await client.call(.get, "/get-stock/S1/P1", headers: [.bazaarConsistency: forged])
                #expect(read.status == 200 && read.int("quantity") == 3, "\(forged): \(read.body)")
                #expect(ContinuousClock.now - started < .milliseconds(250))
            }
        }
    }
}
