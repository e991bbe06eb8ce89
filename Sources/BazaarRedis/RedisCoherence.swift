public import Logging
public import RedisClient
public import ServiceLifecycle

/// Keeps this node's near cache coherent with the others: every level stored in Redis by any node is published on
/// the cache's channel, and this service offers it to the near cache (the version rule keeps the newest).
public struct RedisCoherence: Service {
    let subscriber: RedisSubscriber
    let cache: RedisStockCache
    let logger: Logger

    public init(configuration: RedisConfiguration, cache: RedisStockCache, logger: Logger) {
        self.subscriber = RedisSubscriber(configuration: configuration, channels: [cache.channel])
        self.cache = cache
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await subscriber.run { event in
                switch event {
                case .subscribed:
                    logger.debug("subscribed to cache coherence messages")
                case .message(_, let payload):
                    cache.received(payload)
                }
            }
        }
    }
}
