import AsyncHTTPClient
import BazaarCore
import NIOCore
import NIOHTTP1

/// Webhook POSTs over AsyncHTTPClient's shared client, with a bounded wait.
struct HTTPWebhookTransport: WebhookTransport {
    let timeout: TimeAmount

    func post(url: String, headers: [(String, String)], body: String) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        _ = try await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }
}
