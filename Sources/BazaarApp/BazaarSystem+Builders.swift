import BazaarCore
import BazaarDomain
import BazaarHTTP
import BazaarKafka
import BazaarMySQL
import BazaarRedis
import KafkaClient
import Logging
import Metrics
import RedisClient
import ServiceLifecycle

/// The builders of `BazaarSystem.start`: one part of the node each, chosen by configuration.
extension BazaarSystem {
    /// The storage engine the database URL names, with its schema migrated.
    static func makeStorage(_ configuration: BazaarConfiguration, clock: WallClock) async throws -> any StockStore {
        let store = try await openStore(configuration, clock: clock)
        try await store.migrate()
        return store
    }

    /// Redis, when `redis.url` is set: the client and the versioned shared cache on it (with its near cache).
    struct RedisParts {
        var client: RedisClient
        var cache: RedisStockCache
        var revocations: RedisKeyRevocations
    }

    static func makeRedis(_ configuration: BazaarConfiguration, logger: Logger) throws -> RedisParts? {
        guard let url = configuration.redisURL else { return nil }
        let client: RedisClient
        do { client = RedisClient(configuration: try RedisConfiguration(url: url)) } catch { throw ConfigurationError("redis.url: \(error)") }
        return RedisParts(client: client, cache: RedisStockCache(
            redis: client, keyPrefix: configuration.redisKeyPrefix, nearCapacity: max(16, configuration.cacheCapacity),
            nearMaxAgeMillis: Int64(configuration.cacheNearMaxAgeMillis), logger: logger),
            revocations: RedisKeyRevocations(redis: client, keyPrefix: configuration.redisKeyPrefix, logger: logger))
    }

    /// The read cache: none (`cache.capacity` 0), Redis when configured, else in process. With Kafka there may be
    /// other nodes: the movement topic keeps an in-process cache coherent, and the age bound covers a movement
    /// written elsewhere before this node's coherence consumer joined its group.
    static func makeCache(_ configuration: BazaarConfiguration, redis: RedisParts?) -> any StockCache {
        if configuration.cacheCapacity == 0 { return NoStockCache() }
        if let redis { return redis.cache }
        return InProcessStockCache(capacity: configuration.cacheCapacity,
                                   maxAgeMillis: configuration.kafkaBrokers == nil ? nil : Int64(configuration.cacheNearMaxAgeMillis))
    }

    /// The watch that drops every cached level when the database went back in time (`LedgerClockWatch`): with a
    /// cache, on storage with a ledger clock; its watermark beside the levels in Redis (a node started later still
    /// finds it), else in the node.
    static func makeLedgerClockWatch(_ configuration: BazaarConfiguration, store: any StockStore, cache: any StockCache,
                                     redis: RedisParts?, logger: Logger) -> LedgerClockWatch? {
        guard !(cache is NoStockCache), let source = store as? any LedgerClockSource else { return nil }
        let watermarks: any LedgerWatermarks = redis.map { RedisLedgerWatermarks(redis: $0.client, keyPrefix: configuration.redisKeyPrefix) }
            ?? InMemoryLedgerWatermarks()
        return LedgerClockWatch(source: source, watermarks: watermarks, cache: cache, logger: logger)
    }

    /// The warmer of the in-process cache (`cache.warm_limit`), when it is the cache that answers: not with Redis or
    /// Kafka, where a cached level answers only for `cache.near_max_age_ms` (a warm would be gone in seconds, and with
    /// Redis it would publish a coherence message per level to every node); not without a cache, nor with a limit of 0.
    static func makeCacheWarmer(_ configuration: BazaarConfiguration, store: any StockStore, cache: any StockCache,
                                logger: Logger) -> CacheWarmer? {
        guard let cache = cache as? InProcessStockCache, configuration.kafkaBrokers == nil, configuration.redisURL == nil,
              let source = store as? any LevelScanStore else { return nil }
        let limit = configuration.cacheWarmLimit ?? cache.capacity
        guard limit > 0 else { return nil }
        return CacheWarmer(source: source, cache: cache, limit: limit, logger: logger)
    }

    /// Per-key request limits: shared by every node through Redis (behind the cache's circuit breaker), else per node.
    static func makeRateLimiter(_ configuration: BazaarConfiguration, redis: RedisParts?) -> any RateLimiter {
        if let redis {
            return RedisRateLimiter(redis: redis.client, keyPrefix: configuration.redisKeyPrefix, rate: configuration.rateLimitRate,
                                    burst: configuration.rateLimitBurst, breaker: redis.cache.breaker)
        }
        return InProcessRateLimiter(rate: configuration.rateLimitRate, burst: configuration.rateLimitBurst)
    }

    /// Kafka, when `kafka.brokers` is set: the outbox's publisher and its producer, command ingestion, and the
    /// consumers of the movement topic (the intelligence engine's, shared by the nodes; the in-process cache's, one
    /// group per node).
    struct KafkaParts {
        var publisher: KafkaEventPublisher
        var intelligenceConsumer: any Service
        /// The producer: stops after the relay that publishes through it.
        var producerServices: [any Service]
        /// Command ingestion and cache coherence: stop before the producer.
        var consumerServices: [any Service]
    }

    static func makeKafka(_ configuration: BazaarConfiguration, bus: InProcessEventBus, stock: StockService, intelligence: IntelligenceService,
                          cache: any StockCache, clock: WallClock, logger: Logger) throws -> KafkaParts? {
        guard let brokers = configuration.kafkaBrokers else { return nil }
        // TLS and SASL (kafka.security_protocol and the rest): the same for every client below.
        let security = try configuration.kafkaSecurity()
        if security.securityProtocol == .saslPlaintext {
            logger.warning("kafka.security_protocol is sasl_plaintext: the SCRAM login hides the password, but events and commands cross the network in clear; use sasl_ssl")
        }
        do {
            try KafkaAdmin.createTopics(brokers: brokers, security: security, [
                (MovementEvent.topic, 8), (AlertEvent.topic, 4), (CommandIngestion.topic, 8), (CommandIngestion.rejectedTopic, 2),
            ], timeoutMillis: 5000)
        } catch {
            logger.warning("could not create the Kafka topics (they may exist, or the broker is down)", metadata: ["error": "\(error)"])
        }
        let onError: @Sendable (KafkaError) -> Void = { error in
            logger.log(level: error.isFatal ? .critical : .warning, "kafka", metadata: ["error": "\(error)"])
            if error.code == KafkaError.clientReplaced { Counter(label: "bazaar_kafka_producer_clients_replaced_total").increment() }
        }
        // Its flush at shutdown gets a fifth of the shutdown bound: what it cannot deliver stays in the outbox.
        let producer = try KafkaProducer(configuration: .producer(brokers: brokers, security: security, lingerMillis: configuration.kafkaLingerMillis),
                                         shutdownFlushMillis: Int32(configuration.shutdownTimeoutSeconds * 200), onError: onError)
        let signer = MovementEventSigner(deploymentKey: configuration.deploymentKey)
        let published = PublishedMovements()
        let verifier = VerifiedMovements(signer: signer, published: published, logger: logger)
        if !configuration.deploymentKey.isConfigured {
            logger.warning("neither security.secret_key nor admin.key is set: this node accepts only its own movement events from Kafka; give every node the same security.secret_key")
        }
        var consumers: [any Service] = [CommandIngestion(
            consumer: try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security, group: configuration.kafkaConsumerGroup),
                                        topics: [CommandIngestion.topic], maxBatch: CommandIngestion.maxBatch, lookahead: 1, onError: onError),
            producer: producer, stock: stock, consumerGroup: configuration.kafkaConsumerGroup,
            replayWindowMillis: Int64(configuration.kafkaCommandReplayWindowHours * 3_600_000),
            describeRefusal: Problem.json(for:), clock: clock, logger: logger)]
        if cache is InProcessStockCache {
            // A group of this node's own, from the newest movement: every node sees every movement.
            let group = configuration.kafkaConsumerGroup + ".cache." + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            consumers.append(MovementCacheCoherence(
                consumer: try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security, group: group, startAtLatest: true),
                                            topics: [MovementEvent.topic], onError: onError),
                cache: cache, verifier: verifier))
        }
        // A new group starts at the newest movement: replaying the topic's retained history would open and resolve
        // alerts (and call webhooks) for levels long past. An existing group resumes where it stopped.
        let intelligenceConsumer = MovementIntelligenceConsumer(
            consumer: try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security,
                                                                 group: configuration.kafkaConsumerGroup + ".intelligence", startAtLatest: true),
                                        topics: [MovementEvent.topic], onError: onError),
            intelligence: intelligence, verifier: verifier, logger: logger)
        return KafkaParts(publisher: KafkaEventPublisher(producer: producer, local: bus, signer: signer, published: published, clock: clock),
                          intelligenceConsumer: intelligenceConsumer, producerServices: [producer], consumerServices: consumers)
    }

    /// `/health/ready`: the database is required; Kafka and Redis are optional (without them the node runs degraded).
    static func makeHealthChecks(store: any StockStore, kafka: KafkaEventPublisher?, redis: RedisClient?) -> [HealthCheck] {
        var checks = [
            HealthCheck(name: "database", required: true) {
                do { try await store.ping(); return nil } catch { return "\(error)" }
            },
        ]
        if let kafka {
            checks.append(HealthCheck(name: "kafka", required: false) { kafka.problem() })
        }
        if let redis {
            // Without Redis reads come from the database and limits are kept per node.
            checks.append(HealthCheck(name: "redis", required: false) {
                do { _ = try await redis.send(["PING"]); return nil } catch { return "\(error); reads served by the database, rate limits per node" }
            })
        }
        return checks
    }

    /// The router, with what depends on the engine and the HTTP settings: consistency tokens only where storage answers
    /// them (the GTID of a MySQL write; on SQLite the header has nothing to wait for), and the per-address limit.
    static func makeRouter(_ configuration: BazaarConfiguration, _ services: APIServices, store: any StockStore) -> BazaarRouter {
        var services = services
        services.consistencyTokens = store is MySQLStockStore ? ConsistencyTokenSigner(deploymentKey: configuration.deploymentKey) : nil
        if configuration.httpAddressRateLimitRate > 0 {
            services.addressLimit = AddressRateLimit(ratePerSecond: configuration.httpAddressRateLimitRate, burst: configuration.httpAddressRateLimitBurst)
        }
        return BazaarRouter(services: services)
    }
}
