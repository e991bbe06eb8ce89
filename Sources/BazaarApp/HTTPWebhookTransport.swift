import AsyncHTTPClient
import BazaarCore
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// Webhook POSTs over AsyncHTTPClient, guarded against server-side request forgery.
///
/// Each delivery resolves the URL's host itself, checks every address against the policy, and connects to an
/// address it checked (AsyncHTTPClient's `dnsOverride` pins the connection to it while TLS still verifies the
/// certificate against the host name). So a name that resolves to `127.0.0.1`, or that answers a public address
/// at registration and an internal one later (DNS rebinding), never reaches the internal one. Redirects are not
/// followed (a 3xx is a failed attempt), and the whole delivery, DNS included, ends at the deadline.
struct HTTPWebhookTransport: WebhookTransport {
    let policy: WebhookAddressPolicy

    func post(url: String, headers: [(String, String)], body: String, deadline: ContinuousClock.Instant) async throws -> Int {
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty else { throw WebhookFailure.connectionFailed }
        let target = try await vettedAddress(host: host, deadline: deadline)

        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        let remaining = TimeAmount.nanoseconds(max(1, Int64((deadline - .now) / .nanoseconds(1))))
        configuration.timeout = .init(connect: min(remaining, .seconds(10)), read: remaining)
        // A literal address in its usual form is connected to as written; anything else (a name, `127.1`) goes
        // to the address that was checked.
        if let target, !Self.isCanonicalLiteral(host) { configuration.dnsOverride = [host: target.description] }
        // A client per delivery: the pinned address is part of the client's configuration. Webhooks carry alerts,
        // a few a second at most, so the lost connection reuse costs little.
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let result: Result<Int, WebhookFailure>
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, deadline: .now() + remaining)
            _ = try await response.body.collect(upTo: 64 * 1024)
            result = .success(Int(response.status.code))
        } catch {
            result = .failure(Self.category(of: error))
        }
        try? await client.shutdown()
        return try result.get()
    }

    /// The address to connect to, or nil for a literal address that was checked as written. Throws when the
    /// host resolves to no address the policy allows.
    func vettedAddress(host: String, deadline: ContinuousClock.Instant) async throws -> IPAddress? {
        if let literal = IPAddress(host) {
            if let why = policy.refusal(of: literal) { throw WebhookFailure.addressNotAllowed(why) }
            return literal
        }
        let addresses = try await Self.resolve(host, deadline: deadline)
        guard !addresses.isEmpty else { throw WebhookFailure.dnsFailure }
        var refusals: [String] = []
        for address in addresses {
            if let why = policy.refusal(of: address, host: host) { refusals.append(why) } else { return address }
        }
        throw WebhookFailure.addressNotAllowed(refusals[0])
    }

    static func isCanonicalLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
    }

    /// The addresses of `host` from the system resolver, run on a thread of its own (getaddrinfo blocks) and
    /// abandoned at the deadline.
    static func resolve(_ host: String, deadline: ContinuousClock.Instant) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[IPAddress], any Error>) in
            let pending = Locked<CheckedContinuation<[IPAddress], any Error>?>(continuation)
            let take: @Sendable () -> CheckedContinuation<[IPAddress], any Error>? = { pending.withLock { c in defer { c = nil }; return c } }
            Thread {
                let result = lookup(host)
                take()?.resume(with: result)
            }.start()
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                take()?.resume(throwing: WebhookFailure.timeout)
            }
        }
    }

    static func lookup(_ host: String) -> Result<[IPAddress], any Error> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return .failure(WebhookFailure.dnsFailure) }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if let sockaddr = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    let raw = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                    addresses.append(.v4(UInt32(bigEndian: raw)))
                case AF_INET6:
                    var raw = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(.v6(withUnsafeBytes(of: &raw) { Array($0) }))
                default: break
                }
            }
            next = info.pointee.ai_next
        }
        return .success(addresses)
    }

    /// What went wrong, as a category: the raw error (with addresses, ports and library text) is only logged.
    static func category(of error: any Error) -> WebhookFailure {
        if let known = error as? WebhookFailure { return known }
        if let client = error as? HTTPClientError,
            [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout].contains(client) { return .timeout }
        let text = String(reflecting: error).lowercased()
        if text.contains("refused") { return .connectionRefused }
        if text.contains("timeout") || text.contains("timed out") || text.contains("deadline") { return .timeout }
        if text.contains("ssl") || text.contains("tls") || text.contains("certificate") || text.contains("handshake") { return .tlsFailure }
        return .connectionFailed
    }
}
