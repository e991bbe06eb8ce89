@testable import BazaarApp
@testable import BazaarCore
import BazaarHTTP
@testable import BazaarDomain
import Foundation
import Glibc
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Synchronization
import Testing

// The attack suite (issue 11): each test plays a hostile client, manager or server and fails on a main that
// lacks the matching defence. NETWORK RULE: these tests only ever send traffic to loopback; the refusals of
// internal addresses are checked without connecting anywhere.

/// Runs `body` with a loopback HTTP receiver built by `routes`, passing its port.
func withLoopbackReceiver(_ routes: (Router<BasicRequestContext>) -> Void,
                          _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    let router = Router()
    routes(router)
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    try await app.test(.live) { client in try await body(try #require(client.port)) }
}

/// Counts what a receiver saw, with the time of each request.
actor Hits {
    var paths: [(path: String, at: ContinuousClock.Instant)] = []
    func add(_ path: String) { paths.append((path, .now)) }
    func count(_ path: String) -> Int { paths.filter { $0.path == path }.count }
    func firstAt(_ path: String) -> ContinuousClock.Instant? { paths.first { $0.path == path }?.at }
}

/// Waits until the webhook has at least `count` recorded attempts and returns them (newest first).
func attempts(_ client: any TestClientProtocol, _ id: String, atLeast count: Int = 1, seconds: Double = 60) async throws -> [[String: Any]] {
    var items: [[String: Any]] = []
    _ = try await eventually(seconds: seconds) {
        items = try await client.call(.get, "/v1/webhooks/\(id)/attempts").items
        return items.count >= count
    }
    return items
}

@Suite("Attack suite: webhook SSRF", .ownConsistencyTokens)
struct WebhookSSRFAttackTests {
    @Test func theAddressClassifierKnowsEveryInternalRange() throws {
        let internalAddresses = [
            "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1",
            "100.64.0.1", "100.127.255.255", "169.254.169.254", "169.254.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
            "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", "192.0.0.170",
            // Legacy IPv4 spellings the C resolver accepts, so a connection would reach them.
            "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "017700000001", "10.1",
            "::", "::1", "[::1]", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "febf::1", "fec0::1", "ff02::1", "2001:db8::1",
            "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
            "64:ff9b::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001::1", "100::1",
            "fd00:ec2::254",
        ]
        for text in internalAddresses {
            let address = try #require(IPAddress(text), "\(text) parses")
            #expect(WebhookAddressPolicy.classify(address) != nil, "\(text) is internal")
        }
        let public_ = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1",
                       "169.253.255.255", "192.169.0.1", "11.0.0.1", "223.255.255.255", "2606:4700:4700::1111", "2a00:1450:4001::200e",
                       "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
        for text in public_ {
            let address = try #require(IPAddress(text), "\(text) parses")
            #expect(WebhookAddressPolicy.classify(address) == nil, "\(text) is public")
        }
        #expect(WebhookAddressPolicy.classify(IPAddress("169.254.169.254")!) == "the cloud metadata service")
        #expect(WebhookAddressPolicy.classify(IPAddress("::ffff:127.0.0.1")!)?.contains("loopback") == true)
        for name in ["example.com", "hooks.example", "deadbeef", "1.2.3.4.example", "localhost"] {
            #expect(IPAddress(name) == nil, "\(name) is a name, not an address")
        }

        // The allowlist: hosts by name, addresses and blocks; a block allows the IPv4-mapped form too.
        let policy = try WebhookAddressPolicy(allowlist: ["127.0.0.1", "10.20.0.0/16", "Hooks.Internal.", "fd00:1::/64"])
        #expect(policy.refusal(of: IPAddress("127.0.0.1")!) == nil)
        #expect(policy.refusal(of: IPAddress("::ffff:127.0.0.1")!) == nil)
        #expect(policy.refusal(of: IPAddress("127.0.0.2")!) == "a loopback address")
        #expect(policy.refusal(of: IPAddress("10.20.3.4")!) == nil)
        #expect(policy.refusal(of: IPAddress("10.21.0.1")!) == "a private address")
        #expect(policy.refusal(of: IPAddress("fd00:1::9")!) == nil)
        #expect(policy.refusal(of: IPAddress("10.0.0.1")!, host: "hooks.internal") == nil)
        #expect(policy.refusal(ofURLHost: "localhost")?.contains("loopback") == true)
        #expect(policy.refusal(ofURLHost: "metadata.google.internal")?.contains("metadata") == true)
        #expect(policy.refusal(ofURLHost: "hooks.example.com") == nil)
        #expect(throws: DomainError.self) { try WebhookAddressPolicy(allowlist: ["10.0.0.0/33"]) }
        #expect(throws: DomainError.self) { try WebhookAddressPolicy(allowlist: ["http://x/"]) }
        #expect(IPNetwork("10.0.0.0/8")!.contains(IPAddress("10.200.1.1")!))
        #expect(!IPNetwork("10.0.0.0/8")!.contains(IPAddress("::ffff:10.0.0.1")!), "families do not mix in a block")
    }

    @Test func registrationRefusesInternalAddressesWithoutConnecting() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let refused = [
                "http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "https://192.168.0.10/x",
                "http://172.16.5.4/", "http://100.64.0.1/", "http://0.0.0.0:22/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
                "http://[fe80::1]/", "http://[fd00::1]/", "http://localhost:9000/", "http://api.localhost/", "http://2130706433/",
                "http://127.1/", "http://0x7f.0.0.1/", "http://metadata.google.internal/computeMetadata/v1/", "http://224.0.0.1/",
            ]
            for url in refused {
                let reply = try await client.call(.post, "/v1/webhooks", body: #"{"url": "\#(url)"}"#)
                #expect(reply.status == 422, "\(url) is refused")
                #expect(reply.string("field") == "url")
                let detail = reply.string("detail") ?? ""
                #expect(detail.contains("webhooks.allowed_hosts"), "the refusal says how an operator allows it: \(detail)")
            }
            // Percent escapes in the host: Foundation decodes them, and `127.0.0.1%00` passed as a name the check did
            // not know (the resolver stops at the NUL). Refused for its characters, before any address check.
            for url in ["http://127.0.0.1%00/", "http://127.0.0.1%00.example.com/", "http://%31%32%37.0.0.1/", "http://hooks.example.com%0a/"] {
                let reply = try await client.call(.post, "/v1/webhooks", body: #"{"url": "\#(url)"}"#)
                #expect(reply.status == 422 && reply.string("field") == "url", "\(url) is refused: \(reply.body)")
            }
            let metadata = try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://169.254.169.254/"}"#)
            #expect(metadata.string("detail")?.contains("metadata") == true, "and says why")
            let loopback = try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://[::ffff:127.0.0.1]/"}"#)
            #expect(loopback.string("detail")?.contains("loopback") == true)
            // A public name is accepted (no alert is raised here, so nothing is ever sent to it).
            #expect(try await client.call(.post, "/v1/webhooks", body: #"{"url": "https://hooks.example.com/bazaar"}"#).status == 201)
        }
    }

    @Test func anAllowlistedLoopbackReceiverIsReachedAndRegisteredOnlyWhenAllowed() async throws {
        let hits = Hits()
        try await withLoopbackReceiver({ router in
            router.post("/hook") { _, _ in await hits.add("/hook"); return Response(status: .ok) }
        }) { port in
            // The transport's own check, after resolution: refused without the allowlist, reached with it.
            let url = "http://127.0.0.1:\(port)/hook"
            let deadline = ContinuousClock.now + .seconds(5)
            await #expect(throws: WebhookFailure.addressNotAllowed("a loopback address")) {
                try await HTTPWebhookTransport(policy: .publicOnly).post(url: url, headers: [], body: "{}", deadline: deadline)
            }
            // A name resolving to loopback (from /etc/hosts) is judged by its address, not by its name.
            await #expect(throws: WebhookFailure.addressNotAllowed("a loopback address")) {
                try await HTTPWebhookTransport(policy: .publicOnly).post(url: "http://localhost:\(port)/hook", headers: [], body: "{}", deadline: deadline)
            }
            #expect(await hits.count("/hook") == 0, "nothing was sent")
            let allowed = try WebhookAddressPolicy(allowlist: ["127.0.0.0/8"])
            #expect(try await HTTPWebhookTransport(policy: allowed).post(url: url, headers: [], body: "{}", deadline: deadline) == 200)
            #expect(await hits.count("/hook") == 1)
        }
    }

    @Test func aWebhookStoredBeforeTheCheckIsRefusedAtConnectTime() async throws {
        let hits = Hits()
        try await withLoopbackReceiver({ router in
            router.post("/hook") { _, _ in await hits.add("/hook"); return Response(status: .ok) }
        }) { port in
            // A row that skipped registration's check (an older version, or a name whose DNS changed since):
            // the delivery itself refuses the loopback address.
            let db = TestDatabase()
            try await Harness.withApp(db.url) { system, client in
                try await system.store.insertWebhook(Webhook(id: "whk_0000000000000001", url: "http://127.0.0.1:\(port)/hook", secret: "whsec_x",
                                                             stores: ["S1"], createdAtMillis: 0))
                _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
                let items = try await attempts(client, "whk_0000000000000001")
                #expect(items.first?["error"] as? String == "address not allowed (a loopback address)")
                #expect(items.first?["status_code"] is NSNull)
                #expect(await hits.count("/hook") == 0, "the receiver was never reached")
            }
        }
    }

    @Test func redirectsAreNotFollowedAndErrorsAreCategories() async throws {
        let hits = Hits()
        try await withLoopbackReceiver({ router in
            router.post("/redirect") { _, _ in
                await hits.add("/redirect")
                return Response(status: .temporaryRedirect, headers: [.location: "/target"])
            }
            router.post("/target") { _, _ in await hits.add("/target"); return Response(status: .ok) }
        }) { port in
            let db = TestDatabase()
            var configuration = Harness.configuration(db.url)
            configuration.webhookAllowedHosts = ["127.0.0.1"]
            configuration.webhookRetryBaseSeconds = 60
            let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
            try await system.application().test(.router) { client in
                _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "a"}"#)
                _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "c"}"#)
                let redirect = try #require(try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/redirect"}"#).string("id"))
                // Nothing listens on port 1 of loopback: the attempt says "connection refused", not the socket error.
                let closed = try #require(try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:1/x"}"#).string("id"))
                _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
                let redirected = try await attempts(client, redirect)
                #expect(redirected.first?["status_code"] as? Int == 307)
                #expect(redirected.first?["error"] as? String == "http 307")
                let refused = try await attempts(client, closed)
                #expect(refused.first?["error"] as? String == "connection refused")
                #expect(refused.first?["status_code"] is NSNull)
            }
            try await system.store.close()
            #expect(await hits.count("/redirect") == 1)
            #expect(await hits.count("/target") == 0, "the redirect was not followed")
        }
    }

    @Test func aSlowEndpointDoesNotStallTheOthersAndTimesOut() async throws {
        let hits = Hits()
        try await withLoopbackReceiver({ router in
            router.post("/slow") { _, _ in
                await hits.add("/slow")
                try await Task.sleep(for: .seconds(12))  // the behaviour under test: an endpoint slower than the 10 s timeout
                return Response(status: .ok)
            }
            router.post("/fast") { _, _ in await hits.add("/fast"); return Response(status: .ok) }
        }) { port in
            let db = TestDatabase()
            var configuration = Harness.configuration(db.url)
            configuration.webhookAllowedHosts = ["127.0.0.1"]
            configuration.webhookRetryBaseSeconds = 60
            configuration.webhookTimeoutSeconds = 10
            let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
            try await system.application().test(.router) { client in
                _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "a"}"#)
                _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "c"}"#)
                // The slow one first: one at a time, the fast one would wait for the slow one's deadline.
                let slow = try #require(try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/slow"}"#).string("id"))
                let fast = try #require(try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/fast"}"#).string("id"))
                _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
                #expect(try await attempts(client, fast).first?["status_code"] as? Int == 200)
                let slowAttempts = try await attempts(client, slow)
                #expect(slowAttempts.first?["error"] as? String == "timeout", "the deadline ends the attempt")
            }
            try await system.store.close()
            let slowAt = try #require(await hits.firstAt("/slow")), fastAt = try #require(await hits.firstAt("/fast"))
            // One at a time, the fast call would come after the slow one's 10 s deadline; the 2 s to spare are for a
            // loaded machine, not for a fast call that waited.
            #expect(fastAt - slowAt < .seconds(8), "the fast webhook was called while the slow one was still answering: \(fastAt - slowAt)")
        }
    }

    @Test func deliveriesAreBoundedPerWebhookAndInAll() {
        var inFlight = WebhookDispatcher<InProcessEventBus.Subscription>.InFlight()
        func delivery(_ sequence: Int64, _ webhook: String) -> WebhookDelivery {
            WebhookDelivery(sequence: sequence, webhookID: webhook, url: "", secret: "", eventID: "e", payload: "", attempts: 0)
        }
        func start(_ d: WebhookDelivery) -> Bool { inFlight.start(d, maxConcurrent: 3, maxPerWebhook: 2) }
        #expect(start(delivery(1, "a")))
        #expect(!start(delivery(1, "a")), "a delivery under way is not started twice")
        #expect(start(delivery(2, "a")))
        #expect(!start(delivery(3, "a")), "a webhook's slots are full")
        #expect(start(delivery(4, "b")), "another webhook still goes")
        #expect(!start(delivery(5, "c")), "the total is bounded")
        inFlight.finish(delivery(1, "a"))
        #expect(start(delivery(3, "a")))
    }
}

/// Whether `Bazaar-Signature` verifies `body` with `secret`.
func signatureVerifies(_ headers: HTTPFields, _ body: String, secret: String) -> Bool {
    guard let signature = headers[HTTPField.Name("Bazaar-Signature")!] else { return false }
    let parts = Dictionary(signature.split(separator: ",").map { part -> (String, String) in
        let pair = part.split(separator: "=", maxSplits: 1)
        return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
    }, uniquingKeysWith: { a, _ in a })
    guard let t = parts["t"], let v1 = parts["v1"], let timestamp = Int64(t) else { return false }
    return WebhookService.signature(secret: secret, timestamp: timestamp, body: body) == "t=\(t),v1=\(v1)"
}

@Suite("Attack suite: webhook secrets at rest", .ownConsistencyTokens)
struct WebhookSecretAttackTests {
    @Test func theSealerEncryptsBindsAndReadsOldRows() throws {
        let sealer = WebhookSecretSealer(deploymentKey: DeploymentKey(secret: "a-deployment-secret-0123"))
        let stored = try sealer.seal("whsec_abc", webhookID: "whk_1")
        #expect(stored.hasPrefix("v1:"))
        #expect(!stored.contains("whsec_abc"))
        #expect(try sealer.open(stored, webhookID: "whk_1") == "whsec_abc")
        #expect(try sealer.seal("whsec_abc", webhookID: "whk_1") != stored, "a fresh nonce each time")
        #expect(throws: WebhookFailure.secretUnreadable, "a ciphertext moved to another webhook does not open") {
            try sealer.open(stored, webhookID: "whk_2")
        }
        let other = WebhookSecretSealer(deploymentKey: DeploymentKey(secret: "another-deployment-secret"))
        #expect(throws: WebhookFailure.secretUnreadable) { try other.open(stored, webhookID: "whk_1") }
        // One bit of the ciphertext flipped (in the decoded bytes: a base64 character next to the padding may carry
        // only unused bits, and changing it changes nothing).
        var bytes = Array(Data(base64Encoded: String(stored.dropFirst("v1:".count)))!)
        bytes[bytes.count / 2] ^= 0x01
        let tampered = "v1:" + Data(bytes).base64EncodedString()
        #expect(throws: WebhookFailure.secretUnreadable) { try sealer.open(tampered, webhookID: "whk_1") }
        #expect(try sealer.open("whsec_plain", webhookID: "whk_1") == "whsec_plain", "rows stored in clear by earlier versions still work")
        let none = WebhookSecretSealer(deploymentKey: .ephemeral())
        #expect(!none.encrypts, "a per-process key would not survive a restart")
        #expect(try none.seal("whsec_x", webhookID: "w") == "whsec_x")
    }

    @Test func aDatabaseDumpAloneCannotSignButDeliveriesStillAre() async throws {
        let seen = Locked<[String: (HTTPFields, String)]>([:])
        try await withLoopbackReceiver({ router in
            for path in ["/new", "/legacy", "/foreign"] {
                router.post(RouterPath(path)) { request, _ -> Response in
                    var request = request
                    let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
                    seen.withLock { $0[path] = (request.headers, body) }
                    return Response(status: .ok)
                }
            }
        }) { port in
            let db = TestDatabase()
            var configuration = Harness.configuration(db.url)
            configuration.webhookAllowedHosts = ["127.0.0.1"]
            configuration.webhookRetryBaseSeconds = 60
            configuration.securitySecretKey = "the-deployment-secret-key-42"
            let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
            try await system.application().test(.router) { client in
                _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "a"}"#)
                _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "c"}"#)
                let created = try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/new"}"#)
                let id = try #require(created.string("id")), secret = try #require(created.string("secret"))
                // What a dump of the database holds.
                let row = try #require(try await system.store.webhooks().first { $0.id == id })
                #expect(row.secret.hasPrefix("v1:"))
                #expect(!row.secret.contains(secret) && !row.secret.contains(String(secret.dropFirst(6))), "the secret is not in the database")
                // A row written in clear by an earlier version, and one sealed by another deployment's key.
                try await system.store.insertWebhook(Webhook(id: "whk_00000000000000aa", url: "http://127.0.0.1:\(port)/legacy",
                                                             secret: "whsec_legacy", stores: [], createdAtMillis: 0))
                let foreign = try WebhookSecretSealer(deploymentKey: DeploymentKey(secret: "some-other-deployment-key"))
                    .seal("whsec_foreign", webhookID: "whk_00000000000000bb")
                try await system.store.insertWebhook(Webhook(id: "whk_00000000000000bb", url: "http://127.0.0.1:\(port)/foreign",
                                                             secret: foreign, stores: [], createdAtMillis: 0))
                _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
                #expect(try await attempts(client, id).first?["status_code"] as? Int == 200)
                #expect(try await attempts(client, "whk_00000000000000aa").first?["status_code"] as? Int == 200)
                let foreignAttempt = try await attempts(client, "whk_00000000000000bb").first
                #expect(foreignAttempt?["error"] as? String == "secret unreadable (the secret key changed)")
                let (newHeaders, newBody) = try #require(seen.withLock { $0["/new"] })
                #expect(signatureVerifies(newHeaders, newBody, secret: secret), "signed with the secret shown at creation")
                #expect(!signatureVerifies(newHeaders, newBody, secret: row.secret), "the stored form does not sign")
                let (legacyHeaders, legacyBody) = try #require(seen.withLock { $0["/legacy"] })
                #expect(signatureVerifies(legacyHeaders, legacyBody, secret: "whsec_legacy"))
                #expect(seen.withLock { $0["/foreign"] } == nil, "nothing is sent without a readable secret")
            }
            try await system.store.close()
        }
    }
}

@Suite("Attack suite: unauthenticated traffic", .ownConsistencyTokens)
struct AuthenticationAttackTests {
    @Test func aFloodOfBadKeysIsThrottledWhileAGoodKeyKeepsWorking() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let reader = try await client.key(role: "reader")
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: reader).status == 200)
            // Every request here comes from one client address (the router test has no socket: "unknown").
            var statuses: [Int] = []
            let started = ContinuousClock.now
            for guess in 0..<25 {
                statuses.append(try await client.call(.get, "/get-stock/S1/P1", key: "bzk_guess_\(guess)").status)
            }
            // 20 failures, then one more a refill (one every 2 s): however slowly a loaded machine sends them.
            let elapsed = Double((ContinuousClock.now - started).components.seconds)
            let allowed = 20 + Int(elapsed / 2) + 1
            #expect(statuses.prefix(20).allSatisfy { $0 == 401 }, "\(statuses)")
            #expect(statuses.filter { $0 == 401 }.count <= allowed && statuses.allSatisfy { $0 == 401 || $0 == 429 }, "\(statuses)")
            var throttled = try await client.call(.get, "/get-stock/S1/P1", key: "bzk_guess_more")
            for more in 0..<20 where throttled.status != 429 {
                throttled = try await client.call(.get, "/get-stock/S1/P1", key: "bzk_guess_more_\(more)")
            }
            #expect(throttled.status == 429)
            #expect(throttled.string("type") == "/problems/authentication-throttled")
            #expect(Int(throttled.headers[.retryAfter] ?? "") ?? 0 >= 1, "Retry-After says when to come back")
            // Keys in use from the same address keep working.
            #expect(try await client.call(.get, "/get-stock/S1/P1", key: reader).status == 200)
            #expect(try await client.call(.get, "/get-stock/S1/P1").status == 200, "the admin key too")
        }
    }

    @Test func theKeyCacheForgetsTheLeastRecentlyUsedAndGuessesCannotEvictRealKeys() async throws {
        var lru = LRUCache<String, Int>(capacity: 3)
        lru.set("a", 1); lru.set("b", 2); lru.set("c", 3)
        #expect(lru.get("a") == 1)  // a is now the most recent
        lru.set("d", 4)  // evicts b, the least recently used
        #expect(lru.peek("b") == nil && lru.peek("a") == 1 && lru.peek("c") == 3 && lru.peek("d") == 4 && lru.count == 3)
        lru.removeAll { $0 == 3 }
        lru.set("e", 5)
        #expect(lru.count == 3 && lru.peek("a") == 1 && lru.peek("e") == 5)
        lru.remove("a")
        #expect(lru.peek("a") == nil && lru.count == 2)
        for i in 0..<100 { lru.set("k\(i)", i) }
        #expect(lru.count == 3 && lru.peek("k99") == 99 && lru.peek("k96") == nil)

        let db = TestDatabase()
        let system = try await Harness.system(db.url)
        let keys = APIKeyService(store: system.store, cacheCapacity: 50)
        #expect(try await keys.authenticate(key: adminKey) != nil)
        for guess in 0..<500 { #expect(try await keys.authenticate(key: "bzk_guess_\(guess)") == nil) }
        #expect(keys.isKnown(key: adminKey), "500 guesses did not push a real key out of a 50-entry cache")
        try await system.store.close()
    }

    @Test func changingTheAdminKeyRevokesTheOldOne() async throws {
        let db = TestDatabase()
        var first = Harness.configuration(db.url)
        first.adminKey = "first-admin-key-0123456789"
        let one = try await BazaarSystem.start(configuration: first, logger: .init(label: "test"))
        try await one.application().test(.router) { client in
            #expect(try await client.call(.get, "/v1/api-keys", key: "first-admin-key-0123456789").status == 200)
            let reserved = try await client.call(.post, "/v1/api-keys", key: "first-admin-key-0123456789",
                                                 body: #"{"name": "admin", "role": "admin", "stores": []}"#)
            #expect(reserved.status == 422, "the name of the configured key is reserved")
            #expect(try await client.call(.post, "/v1/api-keys", key: "first-admin-key-0123456789",
                                          body: #"{"name": "ops", "role": "admin", "stores": []}"#).status == 201)
        }
        try await one.store.close()
        var second = first
        second.adminKey = "second-admin-key-0123456789"
        let two = try await BazaarSystem.start(configuration: second, logger: .init(label: "test"))
        try await two.application().test(.router) { client in
            #expect(try await client.call(.get, "/v1/api-keys", key: "second-admin-key-0123456789").status == 200)
            #expect(try await client.call(.get, "/v1/api-keys", key: "first-admin-key-0123456789").status == 401, "the old key is revoked")
            let keys = try await client.call(.get, "/v1/api-keys", key: "second-admin-key-0123456789").items
            #expect(keys.contains { $0["name"] as? String == "ops" && $0["revoked_at"] is NSNull }, "other admin keys are left alone")
        }
        try await two.store.close()
    }

    /// The configured key revoked through the API, then an admin key named "admin " (a name MariaDB's collations
    /// compare equal to "admin": trailing spaces pad): a restart with the same configured key leaves that key alone.
    /// (Before, on MariaDB, the start's `name = 'admin'` found it and revoked it: possibly the chain's last admin key.)
    @Test func aKeyNamedLikeTheBootstrapKeyOutlivesARestart() async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.adminKey = "configured-admin-key-0123456789"
        for start in 1...2 {
            let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
            try await system.application().test(.router) { client in
                if start == 1 {
                    let ops = try await client.call(.post, "/v1/api-keys", key: "configured-admin-key-0123456789",
                                                    body: #"{"name": "ops", "role": "admin", "stores": []}"#)
                    let opsKey = try #require(ops.string("key"))
                    let configured = try await client.call(.get, "/v1/api-keys", key: opsKey).items.first { $0["name"] as? String == "admin" }
                    let configuredID = try #require(configured?["id"] as? String)
                    #expect(try await client.call(.delete, "/v1/api-keys/\(configuredID)", key: opsKey).status == 204)
                    #expect(try await client.call(.post, "/v1/api-keys", key: opsKey,
                                                  body: #"{"name": "admin ", "role": "admin", "stores": []}"#).status == 201)
                } else {
                    let keys = try await client.call(.get, "/v1/api-keys", key: "configured-admin-key-0123456789")
                    #expect(keys.status == 401, "the configured key stays revoked")
                    let padded = try await system.store.activeAPIKeys(named: "admin ", role: .admin)
                    #expect(padded.contains { $0.name == "admin " }, "\"admin \" is another key: left alone")
                }
            }
            try await system.store.close()
        }
    }
}

@Suite("Attack suite: readiness", .ownConsistencyTokens)
struct ReadinessAttackTests {
    @Test func readinessIsAnsweredFromACachedProbeAndDetailsAreForAdminsOnly() async throws {
        let db = TestDatabase()
        let system = try await Harness.system(db.url)
        let probes = Atomic<Int>(0)
        let checks = [
            HealthCheck(name: "database", required: true) {
                probes.add(1, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(50))
                return "could not connect to mysql://bazaar@db-primary.internal:3306 (Access denied for user 'bazaar')"
            },
            HealthCheck(name: "redis", required: false) { nil },
        ]
        let router = BazaarRouter(services: APIServices(
            stock: system.stock, intelligence: system.intelligence, webhooks: WebhookService(store: system.store, sealer: WebhookSecretSealer(deploymentKey: .ephemeral())),
            keys: system.keys, limiter: InProcessRateLimiter(rate: 1000, burst: 1000), healthChecks: checks, metricsText: { "" }))
        try await Application(responder: router.responder).test(.router) { client in
            // A burst of readiness requests costs one probe, not one per request: one more for each second the burst
            // lasted on a loaded machine (the probe's cache holds a second), never one per request.
            let burstStarted = ContinuousClock.now
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<50 { group.addTask { try await client.call(.get, "/health/ready", key: nil) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let burstSeconds = Int((ContinuousClock.now - burstStarted).components.seconds)
            #expect(replies.allSatisfy { $0.status == 503 })
            let burstProbes = probes.load(ordering: .relaxed)
            #expect(burstProbes >= 1 && burstProbes <= 1 + burstSeconds, "one probe for 50 requests (\(burstProbes) in \(burstSeconds) s)")
            let anonymous = try #require(replies.first)
            #expect(!anonymous.body.contains("db-primary") && !anonymous.body.contains("bazaar@"), "no hosts or users for anonymous callers")
            let checksJSON = anonymous.json["checks"] as? [[String: Any]] ?? []
            #expect(checksJSON.map { $0["name"] as? String } == ["database", "redis"])
            #expect(checksJSON.map { $0["status"] as? String } == ["down", "up"])
            let reader = try await system.keys.create(name: "reader", role: .reader, stores: []).key
            #expect(!(try await client.call(.get, "/health/ready", key: reader).body.contains("db-primary")), "nor for a reader")
            #expect(try await client.call(.get, "/health/ready", key: adminKey).body.contains("db-primary"), "an admin sees the error")
            // (The calls above may themselves have outlasted the second on a loaded machine: count from here.)
            let before = probes.load(ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(1100))  // the behaviour under test: the probe's cache ages past a second
            _ = try await client.call(.get, "/health/ready", key: nil)
            #expect(probes.load(ordering: .relaxed) == before + 1, "refreshed once older than a second")
        }
        try await system.store.close()
    }

    @Test func aHangingProbeIsBounded() async throws {
        let health = CachedHealth(checks: [HealthCheck(name: "stuck", required: true) {
            try? await Task.sleep(for: .seconds(600))
            return nil
        }], probeTimeout: .milliseconds(200))
        let start = ContinuousClock.now
        let results = await health.results()
        // Stopped at 200 ms. The bound only tells "stopped" from "waited for the hang" (600 s): a loaded test machine
        // (the whole suite in parallel on two cores) has taken 29 s to get the timeout's task scheduled.
        #expect(ContinuousClock.now - start < .seconds(120))
        #expect(results.first?.failure?.hasPrefix("no answer within") == true)
    }
}

/// A raw loopback TCP client, to behave as no HTTP library would.
struct RawConnection {
    let fd: Int32

    /// `receiveBuffer`: the socket's receive buffer in bytes (set before connecting, so that the window follows it).
    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect failed") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `text`; false once the server has closed the connection.
    @discardableResult func send(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } >= 0
    }

    /// Whether the server has closed the connection (reads what is there, without waiting: a test's task must not
    /// hold one of the few threads of the concurrency pool in a blocking read, which every suite running beside it,
    /// and the servers under test, need).
    func closedByServer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Sends `pieces` one by one, `gap` apart, until the server closes; returns when it did (nil: it never did).
    /// Runs on a thread of its own, waiting in `poll`: on the concurrency pool, under a full suite's load, the loop
    /// went unscheduled for longer than its whole window and ended without having looked (CI: nil within 20 s).
    func trickle(_ pieces: [String], gap: Duration, within limit: Duration) async -> Duration? {
        await withCheckedContinuation { (done: CheckedContinuation<Duration?, Never>) in
            let thread = Thread { [self] in done.resume(returning: trickleBlocking(pieces, gap: gap, within: limit)) }
            thread.name = "raw-connection-trickle"
            thread.start()
        }
    }

    private func trickleBlocking(_ pieces: [String], gap: Duration, within limit: Duration) -> Duration? {
        let start = ContinuousClock.now
        var index = 0
        while ContinuousClock.now - start < limit {
            if index < pieces.count { send(pieces[index]); index += 1 }
            let pieceStart = ContinuousClock.now
            while ContinuousClock.now - pieceStart < gap {
                var watched = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let left = gap - (ContinuousClock.now - pieceStart)
                let millis = Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                if poll(&watched, 1, millis) > 0, closedByServer() { return ContinuousClock.now - start }
            }
        }
        return closedByServer() ? ContinuousClock.now - start : nil
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("Attack suite: slow clients", .ownConsistencyTokens)
struct SlowClientAttackTests {
    /// A node whose HTTP bounds are `idle` and `read` seconds, served on a port for `body`.
    func withServer(idle: Double, read: Double, _ body: @escaping @Sendable (_ port: Int) async throws -> Void) async throws {
        let db = TestDatabase()
        var configuration = Harness.configuration(db.url)
        configuration.httpIdleTimeoutSeconds = idle
        configuration.httpReadTimeoutSeconds = read
        let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
        try await system.application().test(.live) { client in try await body(try #require(client.port)) }
        try await system.store.close()
    }

    /// The windows are wide (the bounds are 1 and 1.5 s; CI under a full suite's load once saw a close come late):
    /// what tells a bound that works from none is whether the server closes before the client stops sending.
    @Test func slowClientsAreCutOffWithinTheBounds() async throws {
        try await withServer(idle: 1, read: 1.5) { port in
            // Half a request: the head, and 1 of 100 body bytes.
            let half = try RawConnection(port: port)
            let halfClosed = await half.trickle(["POST /update-stock/S1/P1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminKey)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"], gap: .milliseconds(100), within: .seconds(30))
            half.close()
            #expect(halfClosed != nil, "half a request is cut off")
            // Half a head, never finished.
            let head = try RawConnection(port: port)
            let headClosed = await head.trickle(["GET /health/live HTTP/1.1\r\nHo"], gap: .milliseconds(100), within: .seconds(30))
            head.close()
            #expect(headClosed != nil, "half a head is cut off")
            // A slowloris: a header line every 300 ms for 30 s is never idle, but the request must be whole within
            // 1.5 s. Without that bound the idle one would close it only after its last line (~31 s).
            let loris = try RawConnection(port: port)
            let lorisClosed = await loris.trickle(["GET /health/live HTTP/1.1\r\n"] + (0..<100).map { "X-Slow-\($0): a\r\n" },
                                                  gap: .milliseconds(300), within: .seconds(32))
            loris.close()
            #expect(lorisClosed != nil && lorisClosed! < .seconds(25), "a trickle is cut off: \(String(describing: lorisClosed))")
        }
    }

    /// A client that sends its requests whole is served, on one connection, with pauses well under the idle bound
    /// (two minutes, so that a stalled test task does not reach it) and longer in all than the read bound (1.5 s):
    /// that bound is each request's, not the connection's.
    @Test func aPoliteClientIsServedAcrossPausesLongerInAllThanTheReadBound() async throws {
        try await withServer(idle: 120, read: 1.5) { port in
            let polite = try RawConnection(port: port)
            polite.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .seconds(1))  // the behaviour under test: a pause under the idle bound
            #expect(!polite.closedByServer())
            polite.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .seconds(1))
            #expect(!polite.closedByServer(), "still open after two answers and 2 s of pauses")
            polite.close()
        }
    }
}

extension SlowClientAttackTests {
    /// A connection's one read timer is set by its first request and outlives it (`RequestReadDeadline`): a slow
    /// request that starts later on the same kept-alive connection must still get its own whole bound, not be cut off
    /// when the first request's time is up, and must then be cut off. The idle bound is long here: the idle handler
    /// only sees whole request parts, so a short one would close the connection first and prove nothing.
    @Test func aSlowRequestOnAKeptAliveConnectionHasItsOwnBound() async throws {
        try await withServer(idle: 60, read: 1.5) { port in
            let kept = try RawConnection(port: port)
            kept.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(600))
            // The first request's time is up 0.9 s into this one; this one's own, 1.5 s into it.
            let slowStart = ContinuousClock.now
            let closed = await kept.trickle(["GET /health/live HTTP/1.1\r\n"] + (0..<100).map { "X-Slow-\($0): a\r\n" },
                                            gap: .milliseconds(300), within: .seconds(32))
            let lasted = ContinuousClock.now - slowStart
            kept.close()
            #expect(closed != nil && lasted >= .milliseconds(1500), "given its own bound: closed after \(lasted)")
            #expect(closed != nil && closed! < .seconds(25), "and cut off (its trickle lasts 30 s): \(String(describing: closed))")
        }
    }
}

@Suite("Attack suite: smaller ones", .ownConsistencyTokens)
struct SmallerAttackTests {
    @Test func occurredAtMustBeInASaneWindow() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let future = RFC3339.format(millis: Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000)
            for when in ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", future] {
                let reply = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "damage", "occurred_at": "\#(when)"}"#)
                #expect(reply.status == 422, "\(when)")
                #expect(reply.string("field") == "occurred_at")
                #expect(reply.string("detail")?.contains("2000-01-01") == true, "the problem says what is allowed")
            }
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 5, "reason": "receipt", "occurred_at": "2000-01-01T00:00:00Z"}"#).status == 200)
            let recent = RFC3339.format(millis: Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt", "occurred_at": "\#(recent)"}"#).status == 200,
                    "a till a minute ahead is tolerated")
        }
    }

    @Test func theIdempotencyFingerprintEncodesFieldsUnambiguously() throws {
        func command(_ reference: String?, expected: Int64? = nil, at: Int64? = nil) throws -> MovementCommand {
            try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-1), reason: .sale, reference: reference,
                                expectedVersion: expected, occurredAtMillis: at)
        }
        let lookalikes = [
            [try command("a|b")], [try command("a", expected: nil, at: nil)], [try command("a|5", expected: nil)], [try command("a", expected: 5)],
            [try command("a|-|5")], [try command("a", expected: nil, at: 5)], [try command("-")], [try command(nil)], [try command("")],
            [try command("x"), try command("y")], [try command("x|S1|P1|d-1|sale|y")],
        ]
        let prints = lookalikes.map(StockService.fingerprint)
        #expect(Set(prints).count == lookalikes.count, "no two different requests share a fingerprint")
        #expect(StockService.fingerprint([try command("a|b")]) == StockService.fingerprint([try command("a|b")]), "a retry matches")
    }

    @Test func configurationErrorsNeverEchoAPassword() throws {
        var configuration = BazaarConfiguration()
        configuration.databaseURL = "postgres://bazaar:hunter2-very-secret-password@db.internal:5432/bazaar"
        #expect { try configuration.validate() } throws: { "\($0)".contains("hunter2") == false && "\($0)".contains("database.url") }
        configuration.databaseURL = "mysql://bazaar:pw@db/x"
        configuration.replicaURLs = ["http://reader:another-long-secret-password-here@replica.internal/bazaar"]
        #expect { try configuration.validate() } throws: { !"\($0)".contains("another-long") }
        #expect(ConfigurationError("redis.url: invalid redis URL: unknown option password=s3cret").description.contains("s3cret") == false)
        #expect(ConfigurationError.redacted("mysql://u:p%40ss@h:3306/db") == "mysql://u:***@h:3306/db")
        #expect(ConfigurationError.redacted("got `mysql://user:truncated-pass`") == "got `mysql://user:***`")
        #expect(ConfigurationError.redacted("mysql://h:3306/db and redis://h:6379") == "mysql://h:3306/db and redis://h:6379", "ports are not passwords")
    }
}
