import BazaarApp
import BazaarCore
import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing

/// What the test's receiver saw.
actor ReceivedRequests {
    var requests: [(headers: HTTPFields, body: String)] = []
    func add(_ headers: HTTPFields, _ body: String) -> Int {
        requests.append((headers, body))
        return requests.count
    }
}

@Suite("Alert webhooks to a real HTTP receiver", .ownConsistencyTokens)
struct WebhookTests {
    @Test func alertsAreSignedRetriedAfterAFailureAndEveryAttemptIsLogged() async throws {
        let received = ReceivedRequests()
        let receiver = Router()
        receiver.post("/hook") { request, context -> Response in
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
            // The first delivery fails; the retry succeeds.
            return Response(status: await received.add(request.headers, body) == 1 ? .internalServerError : .ok)
        }
        let receiverApp = Application(router: receiver, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiverApp.test(.live) { receiverClient in
            let port = try #require(receiverClient.port)
            let db = TestDatabase()
            var configuration = Harness.configuration(db.url)
            configuration.webhookRetryBaseSeconds = 0.1
            // The receiver is on loopback, which webhooks may only call when the operator allows it.
            configuration.webhookAllowedHosts = ["127.0.0.1"]
            let system = try await BazaarSystem.start(configuration: configuration, logger: .init(label: "test"))
            let secret = try await system.application().test(.router) { client in
                _ = try await client.call(.put, "/v1/stores/S1", body: #"{"name": "a"}"#)
                _ = try await client.call(.put, "/v1/stores/S2", body: #"{"name": "b"}"#)
                _ = try await client.call(.put, "/v1/products/P1", body: #"{"name": "c"}"#)
                let hook = try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/hook", "stores": ["S1"]}"#)
                #expect(hook.status == 201)
                let id = try #require(hook.string("id"))
                let secret = try #require(hook.string("secret"))
                let other = try await client.call(.post, "/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/other", "stores": ["S2"]}"#)
                #expect(other.status == 201)
                #expect(!(try await client.call(.get, "/v1/webhooks").body.contains(secret)), "the secret is shown once")
                #expect(try await client.call(.post, "/v1/webhooks", body: #"{"url": "ftp://x"}"#).status == 422)
                #expect(try await client.call(.post, "/v1/webhooks", key: try await client.key(role: "reader"), body: #"{"url": "http://x"}"#).status == 403)

                // A sale without stock: negative stock in S1 raises an alert, delivered to the S1 webhook only.
                _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": -1, "reason": "sale"}"#)
                // Delivered after the commit, then retried after the 500: wait for both attempts, 60 s at most.
                var attempts: [[String: Any]] = []
                _ = try await eventually(seconds: 60) {
                    attempts = try await client.call(.get, "/v1/webhooks/\(id)/attempts").items
                    return attempts.count >= 2
                }
                #expect(attempts.map { $0["status_code"] as? Int } == [200, 500], "newest first: the retry succeeded after a 500")
                #expect(attempts.map { $0["attempt"] as? Int } == [2, 1])
                let otherID = try #require(other.string("id"))
                #expect(try await client.call(.get, "/v1/webhooks/\(otherID)/attempts").items.isEmpty, "S2's webhook gets nothing of S1")
                #expect(try await client.call(.delete, "/v1/webhooks/\(otherID)").status == 204)
                return secret
            }
            let requests = await received.requests
            #expect(requests.count == 2)
            for (headers, body) in requests {
                let signature = try #require(headers[HTTPField.Name("Bazaar-Signature")!])
                let parts = Dictionary(uniqueKeysWithValues: signature.split(separator: ",").map { part -> (String, String) in
                    let pair = part.split(separator: "=", maxSplits: 1)
                    return (String(pair[0]), String(pair[1]))
                })
                let timestamp = try #require(parts["t"])
                let expected = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
                #expect(parts["v1"] == expected.map { String(format: "%02x", $0) }.joined(), "the signature verifies with the webhook's secret")
                let event = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
                #expect(event["type"] as? String == "bazaar.stock.alert")
                #expect((event["data"] as? [String: Any])?["kind"] as? String == "negative_stock")
                #expect(headers[HTTPField.Name("Bazaar-Event-Id")!] == event["id"] as? String)
            }
        }
    }

}
