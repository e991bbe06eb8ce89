public import Crypto
import Foundation

/// The secret every node of one deployment shares (`security.secret_key`, else the configured admin key), from
/// which each purpose derives a key of its own with HKDF-SHA256. Keys derived for different purposes are
/// independent: a leaked token-signing key reveals nothing about the key that encrypts webhook secrets.
///
/// The secret lives in configuration, never in the database, so a dump of the database alone holds nothing that
/// can decrypt or sign.
public struct DeploymentKey: Sendable {
    let material: SymmetricKey
    /// False for a key made up at start because none is configured: it dies with the process, so nothing that
    /// must outlive a restart (stored webhook secrets) may depend on it.
    public let isConfigured: Bool

    /// A key from the configured secret (at least 16 characters; the configuration checks).
    public init(secret: String) {
        material = SymmetricKey(data: Array(secret.utf8))
        isConfigured = true
    }

    /// A random key for this process only.
    public static func ephemeral() -> DeploymentKey { DeploymentKey(material: SymmetricKey(size: .bits256)) }

    private init(material: SymmetricKey) {
        self.material = material
        isConfigured = false
    }

    /// The 256-bit key of one purpose, such as `"webhook-secrets/v1"`.
    public func key(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: material, salt: Array("bazaar".utf8), info: Array(purpose.utf8), outputByteCount: 32)
    }
}

/// Webhook signing secrets at rest: encrypted with AES-256-GCM under a key derived from the deployment key, so
/// that the `webhooks` table (in a backup, a replica, a dump) cannot sign a single request on its own.
///
/// Stored form: `v1:` + base64(nonce | ciphertext | tag), with the webhook id as authenticated data (a
/// ciphertext copied onto another webhook's row does not open). A value without the prefix is a secret stored in
/// clear by an earlier version, or while no key was configured, and is used as it is.
public struct WebhookSecretSealer: Sendable {
    static let prefix = "v1:"
    /// nil: no configured key, secrets are stored in clear (the service logs a warning at start).
    let key: SymmetricKey?

    public init(deploymentKey: DeploymentKey) {
        key = deploymentKey.isConfigured ? deploymentKey.key(for: "webhook-secrets/v1") : nil
    }

    /// Whether stored secrets are encrypted.
    public var encrypts: Bool { key != nil }

    /// The form to store for `secret` of webhook `webhookID`.
    public func seal(_ secret: String, webhookID: String) throws -> String {
        guard let key else { return secret }
        let box = try AES.GCM.seal(Array(secret.utf8), using: key, authenticating: Array(webhookID.utf8))
        guard let combined = box.combined else { throw WebhookFailure.secretUnreadable }
        return Self.prefix + combined.base64EncodedString()
    }

    /// The secret from its stored form; throws `WebhookFailure.secretUnreadable` when it was sealed under
    /// another key (the deployment key changed) or was altered.
    public func open(_ stored: String, webhookID: String) throws(WebhookFailure) -> String {
        guard stored.hasPrefix(Self.prefix) else { return stored }
        guard let key, let combined = Data(base64Encoded: String(stored.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Array(webhookID.utf8)),
            let secret = String(bytes: plain, encoding: .utf8)
        else { throw .secretUnreadable }
        return secret
    }
}
