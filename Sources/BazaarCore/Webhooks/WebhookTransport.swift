import BazaarDomain
import Crypto
import Foundation
import Logging
import ServiceLifecycle

/// Sends one HTTP POST; the webhook dispatcher is written against this so the client library stays outside Core.
///
/// Implementations must check every address they connect to against the `WebhookAddressPolicy` (after DNS),
/// must not follow redirects, and must give up at `deadline`. They throw `WebhookFailure` so that what is
/// recorded (and shown in `/attempts`) is a category, never the network's own error text: raw errors would
/// tell a manager which internal ports are open.
public protocol WebhookTransport: Sendable {
    /// Returns the status code, or throws a `WebhookFailure`.
    func post(url: String, headers: [(String, String)], body: String, deadline: ContinuousClock.Instant) async throws -> Int
}

/// Why a delivery got no answer, as the category recorded in `webhook_attempts.error`.
public enum WebhookFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The host resolved only to addresses the policy refuses (with the reason, such as "a loopback address").
    case addressNotAllowed(String)
    case dnsFailure
    case timeout
    case connectionRefused
    case connectionFailed
    case tlsFailure
    /// The stored secret cannot be decrypted with this node's key (`security.secret_key` changed).
    case secretUnreadable

    public var description: String {
        switch self {
        case .addressNotAllowed(let why): "address not allowed (\(why))"
        case .dnsFailure: "dns lookup failed"
        case .timeout: "timeout"
        case .connectionRefused: "connection refused"
        case .connectionFailed: "connection failed"
        case .tlsFailure: "tls handshake failed"
        case .secretUnreadable: "secret unreadable (the secret key changed)"
        }
    }
}

