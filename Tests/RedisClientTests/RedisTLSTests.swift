import Foundation
import RedisClient
import Testing

/// `rediss://`: TLS to Redis, the server's chain and address verified (issue 11: the password no longer crosses the
/// network in clear). Against the test server's TLS port (scripts/services/redis.sh), loopback only.
@Suite("Redis over TLS", .enabled(if: ProcessInfo.processInfo.environment["BAZAAR_TEST_REDIS_TLS_URL"] != nil, "needs BAZAAR_TEST_REDIS_TLS_URL"))
struct RedisTLSTests {
    static let url = ProcessInfo.processInfo.environment["BAZAAR_TEST_REDIS_TLS_URL"] ?? ""
    static let directory = ProcessInfo.processInfo.environment["BAZAAR_TEST_REDIS_TLS_DIR"] ?? ""

    static func client(ca: String) throws -> RedisClient {
        RedisClient(configuration: try RedisConfiguration(url: url + "&tls_ca=\(directory)/\(ca)"))
    }

    @Test func aClientThatTrustsTheServersAuthorityTalksOverTLS() async throws {
        let client = try Self.client(ca: "ca.pem")
        #expect(try await client.send(["PING"]).string == "PONG")
        let key = "tls-test-\(UUID().uuidString)"
        _ = try await client.send(["SET", key, "over tls", "PX", "10000"])
        #expect(try await client.send(["GET", key]).string == "over tls")
        await client.close()
    }

    @Test func aCertificateFromAnotherAuthorityIsRefused() async throws {
        let client = try Self.client(ca: "other-ca.pem")
        await #expect(throws: (any Error).self) { _ = try await client.send(["PING"]) }
        await client.close()
    }

    @Test func plainTCPToTheTLSPortFails() async throws {
        let plain = RedisClient(configuration: try RedisConfiguration(url: Self.url.replacingOccurrences(of: "rediss://", with: "redis://")))
        await #expect(throws: (any Error).self) { _ = try await plain.send(["PING"]) }
        await plain.close()
    }

    @Test func urlsSayWhetherTheyUseTLS() throws {
        #expect(try RedisConfiguration(url: "rediss://h:6380?tls_ca=/etc/ca.pem").tls == .init(caFile: "/etc/ca.pem"))
        #expect(try RedisConfiguration(url: "rediss://h").tls == .init())
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h?tls_ca=/x.pem") }
    }
}
