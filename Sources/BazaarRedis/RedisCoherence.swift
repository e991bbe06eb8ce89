public import BazaarCore
public import Logging
public import RedisClient
public import ServiceLifecycle

/// Keeps this node's near cache coherent with the others: every level stored in Redis by any node is published on
/// the cache's channel, and this service offers it to the near cache (the version rule keeps the newest). It also
/// hears revocations of API keys (`RedisKeyRevocations`) and makes this node forget those keys.
public struct RedisCoherence: Service {
    let subscriber: RedisSubscriber
    let cache: RedisStockCache
    let revocations: RedisKeyRevocations
    let keys: APIKeyService
    let logger: Logger

    public init(configuration: RedisConfiguration, cache: RedisStockCache, revocations: RedisKeyRevocations, keys: APIKeyService, logger: Logger) {
        self.subscriber = RedisSubscriber(configuration: configuration, channels: [cache.channel, revocations.channel])
        self.cache = cache
        self.revocations = revocations
        self.keys = keys
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await subscriber.run { event in
                switch event {
                case .subscribed:
                    // Revocations published while this node was not subscribed are lost: ask the database again.
                    keys.forget(keyID: nil)
                    logger.debug("subscribed to cache coherence messages and key revocations")
                case .message(let channel, let payload) where channel == revocations.channel:
                    keys.forget(keyID: payload)
                case .message(_, let payload):
                    cache.received(payload)
                }
            }
        }
    }
}
