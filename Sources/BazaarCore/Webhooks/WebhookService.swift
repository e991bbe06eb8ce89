import BazaarDomain
import Crypto
import Foundation
import Logging
import ServiceLifecycle

/// Alert subscriptions. Each is signed with its own secret, shown once at creation and stored sealed
/// (`WebhookSecretSealer`): the database holds only ciphertext that this deployment's key opens.
public final class WebhookService: Sendable {
    let store: any WebhookStore
    let clock: WallClock
    let policy: WebhookAddressPolicy
    let sealer: WebhookSecretSealer

    /// `policy` decides which hosts a URL may name (public addresses only, unless the allowlist says more);
    /// `sealer` encrypts each secret before it reaches the store.
    public init(store: any WebhookStore, clock: WallClock = .system, policy: WebhookAddressPolicy = .publicOnly,
                sealer: WebhookSecretSealer) {
        self.store = store
        self.clock = clock
        self.policy = policy
        self.sealer = sealer
    }

    public func create(url: String, stores: [String]) async throws -> Webhook {
        guard url.utf8.count <= 2048, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
            let host = parsed.host, !host.isEmpty
        else { throw DomainError.invalid(field: "url", message: "must be an absolute http:// or https:// URL of at most 2048 bytes") }
        // The host as a resolver reads it: ASCII letters, digits, `.`, `-`, `_` (an IP literal: hex digits, `:`,
        // brackets). Foundation decodes percent escapes in the host, so `127.0.0.1%00` arrived here as "127.0.0.1\0":
        // neither an address nor a name the check below knows, while the resolver stops at the NUL.
        guard host.utf8.allSatisfy(Self.isHostByte) else {
            throw DomainError.invalid(field: "url", message: "must name its host with ASCII letters, digits, dots and hyphens, or as an IP address "
                + "(no percent escapes, spaces or other characters in the host; an international name in its xn-- form)")
        }
        // Checked on the text here (no traffic at registration); every delivery checks the resolved addresses again.
        if let why = policy.refusal(ofURLHost: host) {
            throw DomainError.invalid(field: "url", message: "must name a public host: \(why); webhooks may not call internal addresses "
                + "unless the operator lists the host or its network in `webhooks.allowed_hosts`")
        }
        for (index, id) in stores.enumerated() { try Identifier.validate(id, field: "stores[\(index)]") }
        let webhook = Webhook(id: "whk_" + Hex.random(bytes: 8), url: url, secret: "whsec_" + Hex.random(bytes: 24),
                              stores: Array(Set(stores)).sorted(), createdAtMillis: clock.nowMillis())
        var stored = webhook
        stored.secret = try sealer.seal(webhook.secret, webhookID: webhook.id)
        try await store.insertWebhook(stored)
        return webhook  // with the secret in clear: the caller shows it this once
    }

    static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
        default: false
        }
    }

    /// Every active subscription (their secrets sealed: never shown again).
    public func list() async throws -> [Webhook] {
        try await store.webhooks()
    }

    /// The newest delivery attempts of one subscription, at most `limit`.
    public func attempts(webhookID: String, limit: Int) async throws -> [WebhookAttempt] {
        try await store.webhookAttempts(webhookID: webhookID, limit: limit)
    }

    public func delete(id: String) async throws {
        guard try await store.deleteWebhook(id: id, atMillis: clock.nowMillis()) else { throw DomainError.notFound(what: "webhook", id: id) }
    }

    /// `Bazaar-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the secret>`. Receivers recompute
    /// it and reject old timestamps, so a captured request cannot be replayed later.
    public static func signature(secret: String, timestamp: Int64, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=\(Hex.encode(mac))"
    }
}
