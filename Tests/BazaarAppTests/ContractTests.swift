import BazaarApp
import Crypto
import Foundation
import Testing

@Suite("The OpenAPI document and the configuration contract", .ownConsistencyTokens)
struct ContractTests {
    /// `METHOD /path` pairs from the document's `paths` (a line scan is enough for this file's layout).
    static func documentedOperations(_ yaml: String) -> Set<String> {
        var operations = Set<String>()
        var path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") { inPaths = true; continue }
            if inPaths, !line.hasPrefix(" "), !line.isEmpty { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let word = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "put", "post", "delete", "patch"].contains(String(word)) { operations.insert("\(word.uppercased()) \(path)") }
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url, seed: false) { system, client in
            let served = try await client.call(.get, "/openapi.yaml", key: nil)
            #expect(served.status == 200)
            #expect(served.body.hasPrefix("openapi: 3.1"))
            let documented = Self.documentedOperations(served.body)
            let routed = Set(system.router.routes.entries.map { "\($0.method) \($0.path)" })
            #expect(documented.count > 15)
            #expect(routed.subtracting(documented).isEmpty, "routes missing from openapi.yaml: \(routed.subtracting(documented).sorted())")
            #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
        }
    }

    @Test func operationsEndpointsAnswerWithoutAKey() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1}"#)
            #expect(try await client.call(.get, "/health/live", key: nil).status == 200)
            // Readiness is a probe of every dependency, each with a 2 s bound: polled, so that one slow answer on a
            // loaded machine is probed again a second later.
            var ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(try await eventually {
                ready = try await client.call(.get, "/health/ready", key: nil)
                return ready.status == 200 && ready.string("status") == "ready"
            }, "\(ready.status) \(ready.body)")
            let metrics = try await client.call(.get, "/metrics", key: nil)
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("bazaar_movements_applied_total"))
            #expect(metrics.body.contains("http_server_request_duration"))
            let page = try await client.call(.get, "/", key: nil)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.body.contains("Bazaar"))
            // The page acts with an API key: only its own script runs (by hash), and no other site may frame it.
            let policy = page.headers[.contentSecurityPolicy] ?? ""
            #expect(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "\(policy)")
            let script = try #require(page.body.range(of: "<script>").flatMap { open in
                page.body.range(of: "</script>", range: open.upperBound..<page.body.endIndex).map { page.body[open.upperBound..<$0.lowerBound] }
            })
            let hash = Data(SHA256.hash(data: Data(script.utf8))).base64EncodedString()
            #expect(policy.contains("script-src 'sha256-\(hash)'"), "the policy names the page's own script")
            #expect(page.headers[.init("X-Frame-Options")!] == "DENY" && page.headers[.xContentTypeOptions] == "nosniff")

            // HEAD wherever GET is: the same head, no body; and it is named in 405's Allow.
            let probe = try await client.call(.head, "/health/live", key: nil)
            #expect(probe.status == 200 && probe.body.isEmpty && probe.headers[.contentLength] == "17", "\(probe.headers)")
            let level = try await client.call(.head, "/get-stock/S1/P1")
            #expect(level.status == 200 && level.body.isEmpty && level.headers[.contentLength] != nil)
            #expect(try await client.call(.head, "/get-stock/S9/P1").status == 404, "HEAD refuses as GET does")
            // A stream's HEAD takes no place among the streams: far more than a key may hold open, all answered.
            for _ in 0..<120 {  // the default allows a key 100 streams
                let stream = try await client.call(.head, "/v1/stream")
                #expect(stream.status == 200 && stream.headers[.contentType]?.hasPrefix("text/event-stream") == true, "\(stream.status)")
            }
            // Each HEAD is done when answered: the router drops the stream's body, which would have ended its count.
            let scraped = try await client.call(.get, "/metrics", key: nil).body
            let active = scraped.split(separator: "\n").first { $0.hasPrefix("http_server_active_requests{") && $0.contains("\"HEAD\"") }
            #expect(active.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 < 5 } ?? true, "\(active ?? "none")")
            let refused = try await client.call(.delete, "/health/live", key: nil)
            #expect(refused.status == 405 && refused.headers[.allow] == "GET, HEAD", "\(refused.headers)")
        }
    }

    @Test func configurationPrecedenceIsCommandLineThenEnvironmentThenFileThenDefaults() async throws {
        let db = TestDatabase()
        let file = db.folder.appendingPathComponent("bazaar.json")
        try #"{"http": {"port": 1111, "host": "0.0.0.0"}, "rate_limit": {"rate": 5}, "database": {"url": "sqlite://./from-file.sqlite"}}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let environment = ["BAZAAR_HTTP_PORT": "2222", "BAZAAR_DATABASE_URL": "sqlite://./from-env.sqlite"]
        let all = try await BazaarConfiguration.load(commandLine: ["http.port": "3333"], configFile: file.path, environment: environment)
        #expect(all.httpPort == 3333)
        #expect(all.databaseURL == "sqlite://./from-env.sqlite")
        #expect(all.httpHost == "0.0.0.0")
        #expect(all.rateLimitRate == 5)
        #expect(all.rateLimitBurst == 2000)
        let noCommandLine = try await BazaarConfiguration.load(configFile: file.path, environment: environment)
        #expect(noCommandLine.httpPort == 2222)
        let defaults = try await BazaarConfiguration.load(environment: [:])
        #expect(defaults.httpPort == 8080)
        #expect(defaults.httpHost == "127.0.0.1")
        #expect(defaults.databaseURL == "sqlite://./bazaar.sqlite")
        #expect(defaults.redisURL == nil && defaults.kafkaBrokers == nil && defaults.adminKey == nil)
        let withKey = try await BazaarConfiguration.load(environment: [
            "BAZAAR_ADMIN_KEY": "k-123456789012345", "BAZAAR_DATABASE_URL": "mysql://p/db", "BAZAAR_DATABASE_REPLICA_URLS": "mysql://a, mysql://b"])
        #expect(withKey.adminKey == "k-123456789012345")
        #expect(withKey.replicaURLs == ["mysql://a", "mysql://b"])
        await #expect(throws: ConfigurationError.self) { try await BazaarConfiguration.load(environment: ["BAZAAR_DATABASE_URL": "postgres://x"]) }
        await #expect(throws: ConfigurationError.self, "replicas of a SQLite file") {
            try await BazaarConfiguration.load(environment: ["BAZAAR_DATABASE_REPLICA_URLS": "mysql://a"])
        }
        await #expect(throws: ConfigurationError.self) { try await BazaarConfiguration.load(environment: ["BAZAAR_HTTP_PORT": "70000"]) }
        await #expect(throws: ConfigurationError.self) { try await BazaarConfiguration.load(environment: ["BAZAAR_LOG_FORMAT": "xml"]) }
        await #expect(throws: ConfigurationError.self) { try await BazaarConfiguration.load(environment: ["BAZAAR_LOG_LEVEL": "loud"]) }
        #expect(try await BazaarConfiguration.load(environment: ["BAZAAR_LOG_FORMAT": "json"]).logFormat == "json")
        #expect(defaults.kafkaLingerMillis == 50)
        #expect(defaults.databaseConcurrentFlushes == 1)
        #expect(try await BazaarConfiguration.load(environment: ["BAZAAR_DATABASE_CONCURRENT_FLUSHES": "2"]).databaseConcurrentFlushes == 2)
        await #expect(throws: ConfigurationError.self) { try await BazaarConfiguration.load(environment: ["BAZAAR_DATABASE_CONCURRENT_FLUSHES": "0"]) }
        #expect(try await BazaarConfiguration.load(environment: ["BAZAAR_KAFKA_LINGER_MS": "5"]).kafkaLingerMillis == 5)
        await #expect(throws: ConfigurationError.self) { try await BazaarConfiguration.load(environment: ["BAZAAR_KAFKA_LINGER_MS": "101"]) }
    }

    @Test func aFirstStartWithoutAnAdminKeyCreatesOneOnce() async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.adminKey = nil
        let first = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "t"))
        let key = try #require(first.newAdminKey)
        let status = try await first.application().test(.router) { client in
            try await client.call(.get, "/v1/api-keys", key: key).status
        }
        #expect(status == 200)
        try await first.store.close()
        let second = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "t"))
        #expect(second.newAdminKey == nil)
        try await second.store.close()
    }
}
