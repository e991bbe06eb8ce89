import BazaarCore
import BazaarDomain
import Foundation
import Synchronization
import Testing

/// The answer of a request still in flight, once it has ended.
private final class Outcome: Sendable {
    let reply = Mutex<Reply?>(nil)
}

/// Live streams (`GET /v1/stream`) authorized like every read, and for no longer than the key is.
@Suite struct LiveStreamAuthorizationTests {
    @Test func aRevokedKeysStreamEndsAndCarriesNothingWrittenAfterTheRevocation() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            let created = try await client.call(.post, "/v1/api-keys", body: #"{"name":"till-9","role":"store","stores":["S1"]}"#)
            let key = try #require(created.string("key"))
            let id = try #require(created.string("id"))
            let outcome = Outcome()
            let stream = Task {
                let reply = try await client.call(.get, "/v1/stream?store_id=S1", key: key)
                outcome.reply.withLock { $0 = reply }
            }
            #expect(try await eventually(seconds: 60) { system.live.streamCount == 1 }, "the stream opened")
            #expect(try await client.call(.delete, "/v1/api-keys/\(id)").status == 204)
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: key).status == 401, "the key is refused everywhere else")
            // Past the stream's bound on trusting its key without a check (250 ms), a movement of its store.
            try await Task.sleep(for: .seconds(1))
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 4, "reason": "receipt", "reference": "after-revocation"}"#)
            // Before: the stream went on for as long as the client kept it open, with every later movement.
            let ended = try await eventually(seconds: 60) { outcome.reply.withLock { $0 != nil } }
            #expect(ended, "a revoked key's stream ends")
            guard ended else { return }  // the system's shutdown ends it
            _ = try await stream.value
            let reply = try #require(outcome.reply.withLock { $0 })
            #expect(reply.status == 200)
            #expect(!reply.body.contains("after-revocation"), "nothing written after the revocation reaches it: \(reply.body)")
            #expect(system.live.streamCount == 0)
        }
    }
}
