import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// The answer of a request still in flight, once it has ended.
private final class Outcome: Sendable {
    let reply = Mutex<Reply?>(nil)
}

/// Live streams (`GET /v1/stream`) authorized like every read, and for no longer than the key is.
@Suite(.ownConsistencyTokens) struct LiveStreamAuthorizationTests {
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

    /// Before: one key with read access could open every stream a node allows (live.max_streams) and hold them with
    /// idle connections: every other client's stream was refused for as long as it liked.
    @Test func oneKeyCannotTakeEveryStreamOfTheNode() async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.liveMaxStreams = 10
        configuration.liveMaxStreamsPerKey = 2
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let system = try await BazaarSystem.start(configuration: configuration, logger: logger)
        try await system.application().test(.router) { client in
            _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name":"Store S1"}"#)
            let key = try await client.key(role: "reader", name: "script")
            let streams = [
                Task { _ = try await client.call(.get, "/v1/stream", key: key) },
                Task { _ = try await client.call(.get, "/v1/stream?store_id=S1", key: key) },
            ]
            #expect(try await eventually(seconds: 60) { system.live.streamCount == 2 })
            let third = try await client.call(.get, "/v1/stream", key: key)
            #expect(third.status == 503 && third.isProblem && third.string("type") == "/problems/overloaded")
            #expect(third.string("detail")?.contains("live.max_streams_per_key") == true, "\(third.body)")
            // Another key's stream opens.
            let admin = Task { _ = try await client.call(.get, "/v1/stream") }
            #expect(try await eventually(seconds: 60) { system.live.streamCount == 3 })
            _ = (streams, admin)  // ended by the system's shutdown
        }
        try await system.store.close()
    }
}
