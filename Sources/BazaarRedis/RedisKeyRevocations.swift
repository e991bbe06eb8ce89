public import BazaarCore
public import Logging
public import RedisClient

/// Notices of revoked API keys between nodes, on the channel `<prefix>api-key-revocations` (the payload is the key's
/// id). A node trusts a key it has looked up for a few seconds (`APIKeyService`); the notice makes every node that
/// hears it forget the key at once, so `DELETE /v1/api-keys/{id}` takes effect everywhere, not only where it was
/// answered. Pub/sub is not durable: a node that was not subscribed when the notice went out forgets all its keys
/// when it subscribes again (`RedisCoherence`), and the key cache's time bound covers the rest.
public struct RedisKeyRevocations: Sendable {
    let redis: RedisClient
    public let channel: String
    let logger: Logger

    public init(redis: RedisClient, keyPrefix: String, logger: Logger) {
        self.redis = redis
        self.channel = keyPrefix + "api-key-revocations"
        self.logger = logger
    }

    /// Publishes the revocation of `keyID`; a failure is logged (the revocation itself is committed already).
    public func announce(_ keyID: String) async {
        do {
            _ = try await redis.send(["PUBLISH", channel, keyID])
        } catch {
            logger.warning("could not tell the other nodes that API key \(keyID) was revoked; they stop accepting it within 5 s",
                           metadata: ["error": "\(error)"])
        }
    }
}
