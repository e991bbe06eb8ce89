import BazaarApp
@testable import BazaarHTTP
import Foundation
import HummingbirdTesting
import Testing

/// The warm read answered on the connection (`WarmReadHandler`) across two nodes. It answers from the node's own
/// memory, so another node's write must reach that memory before the connection answers the pair again: through
/// Redis (the coherence channel), or without Redis through the movement topic (`MovementCacheCoherence`). Each
/// round, node B holds the pair, node A writes it, and B's reads on one kept-alive connection never go back in
/// version, reach the write's, and are then answered on the connection at that version.
@Suite("Warm reads on the connection, across nodes", .ownConsistencyTokens, .serialized)
struct WarmReadAcrossNodesTests {
    @Test(.enabled(if: RedisTestServer.url != nil, "needs BAZAAR_TEST_REDIS_URL"))
    func anotherNodesWriteReachesTheConnectionThroughRedis() async throws {
        let db = TestDatabase()
        let nodeA = try await RedisTestServer.system(db.url)
        // Its near cache would answer a level for an hour: only the coherence channel can bring it a new one.
        let nodeB = try await RedisTestServer.system(db.url, nearMaxAgeMillis: 3_600_000)
        try await Self.rounds(nodeA, nodeB)
    }

    @Test(.enabled(if: KafkaTestBroker.brokers != nil, "needs BAZAAR_TEST_KAFKA_BROKERS"))
    func anotherNodesWriteReachesTheConnectionThroughTheMovementTopic() async throws {
        let db = TestDatabase()
        // B's cache would answer a level for an hour: only the movement topic can tell it of A's writes.
        try await Self.rounds(try await KafkaTestBroker.system(db.url), try await KafkaTestBroker.system(db.url, nearMaxAgeMillis: 3_600_000))
    }

    static func rounds(_ nodeA: BazaarSystem, _ nodeB: BazaarSystem) async throws {
        let pair = "/S1/P\(UUID().uuidString.prefix(8))"
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                try await RedisTestServer.seed(a)
                _ = try await a.call(.put, "/v1/products/\(pair.split(separator: "/")[1])", body: #"{"name":"w"}"#)
                let connection = try RawConnection(port: try #require(b.port))
                defer { connection.close() }
                var seen: Int64 = 0
                /// B's answer on the kept-alive connection; it never goes back in version.
                func readOnB() async throws -> Int64 {
                    connection.send("GET /get-stock\(pair) HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer \(adminKey)\r\n\r\n")
                    let answer = try #require(await connection.responses(1, within: .seconds(30)).first)
                    let version = try #require(Self.version(in: answer), "\(answer)")
                    #expect(version >= seen, "B went back from version \(seen) to \(version)")
                    seen = max(seen, version)
                    return version
                }
                // B's coherence starts as it starts (a message before that is lost, and the topic's group starts at
                // the newest event): first see B, holding the pair, follow A at all.
                var written: Int64 = 0
                let following = try await eventually(seconds: 120) {
                    _ = try await readOnB()
                    written = try await a.call(.post, "/update-stock\(pair)", body: #"{"delta": 1, "reason": "receipt"}"#).int("version") ?? 0
                    return try await eventually(seconds: 2) { try await readOnB() == written }
                }
                try #require(following, "node B never followed node A's writes")
                for _ in 1...15 {
                    _ = try await readOnB()  // B holds the pair: the next read is answered from its memory
                    written = try await a.call(.post, "/update-stock\(pair)", body: #"{"delta": 1, "reason": "receipt"}"#).int("version") ?? 0
                    #expect(try await eventually(seconds: 30) { try await readOnB() == written }, "B still answers \(seen), A wrote \(written)")
                    // Answered on the connection at that version (a read may go to the router now and then: to
                    // renew the key's rate-limit lease from Redis).
                    let before = nodeB.router.readsFromMemory.onTheConnection
                    for _ in 0..<5 where nodeB.router.readsFromMemory.onTheConnection == before {
                        #expect(try await readOnB() == written)
                    }
                    #expect(nodeB.router.readsFromMemory.onTheConnection > before, "the new level answered on the connection")
                }
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    /// The `version` of a read's answer, head and body as they came.
    static func version(in answer: String) -> Int64? {
        guard let range = answer.range(of: "\"version\":") else { return nil }
        return Int64(answer[range.upperBound...].prefix { $0.isNumber })
    }
}
