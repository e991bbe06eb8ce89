public import BazaarCore
public import BazaarHTTP
import BazaarDomain
import BazaarSQLite
import BazaarMySQL
import BazaarRedis
import BazaarKafka
import KafkaClient
import MySQLClient
import RedisClient
public import Hummingbird
public import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running parts of one Bazaar node, chosen by configuration and wired together.
public struct BazaarSystem: Sendable {
    public let configuration: BazaarConfiguration
    public let store: any StockStore
    public let stock: StockService
    public let keys: APIKeyService
    public let intelligence: IntelligenceService
    /// Reservations (issue 17), and their expiry: a sweep on every node, each reservation expired once.
    public let reservations: ReservationService
    public let reservationExpiry: ReservationExpiry
    public let bus: InProcessEventBus
    public let relay: OutboxRelay
    public let router: BazaarRouter
    /// Live updates for `/v1/stream`: one reader of the ledger for every stream of the node.
    public let live: LiveFeed
    /// An admin key created at this start because none existed; printed once by `serve`.
    public let newAdminKey: String?
    let logger: Logger
    /// Movements into the intelligence engine: from the in-process bus, or from Kafka (shared by the nodes).
    let intelligenceConsumer: any Service
    let webhookDispatcher: WebhookDispatcher<InProcessEventBus.Subscription>
    /// The cache coherence subscriber when Redis is configured.
    let redisServices: [any Service]
    /// The Kafka producer (stops after the relay that uses it) and the consumers: command ingestion, cache
    /// coherence (stop before it).
    let kafkaProducerServices: [any Service]
    let kafkaConsumerServices: [any Service]

    /// Opens storage (migrating it), bootstraps the admin key and builds the router.
    public static func start(configuration: BazaarConfiguration, logger: Logger, clock: WallClock = .system) async throws -> BazaarSystem {
        let store = try await openStore(configuration, clock: clock)
        try await store.migrate()
        let catalog = CatalogIndex(store: store)
        try await catalog.warm()
        let signal = OutboxSignal()
        let bus = InProcessEventBus()
        var redis: RedisClient?
        if let url = configuration.redisURL {
            do { redis = RedisClient(configuration: try RedisConfiguration(url: url)) } catch { throw ConfigurationError("redis.url: \(error)") }
        }
        let redisCache = redis.map { redis in
            RedisStockCache(redis: redis, keyPrefix: configuration.redisKeyPrefix, nearCapacity: max(16, configuration.cacheCapacity), nearMaxAgeMillis: Int64(configuration.cacheNearMaxAgeMillis),
                            logger: logger)
        }
        let cache: any StockCache
        if configuration.cacheCapacity == 0 {
            cache = NoStockCache()
        } else if let redisCache {
            cache = redisCache
        } else {
            // With Kafka there may be other nodes: the movement topic keeps this cache coherent, and the age bound
            // covers a movement written elsewhere before this node's coherence consumer joined its group.
            cache = InProcessStockCache(capacity: configuration.cacheCapacity,
                                        maxAgeMillis: configuration.kafkaBrokers == nil ? nil : Int64(configuration.cacheNearMaxAgeMillis))
        }
        let stock = StockService(store: store, cache: cache, catalog: catalog, outboxSignal: signal)
        let reservations = ReservationService(stock: stock, clock: clock)
        let keys = APIKeyService(store: store, clock: clock)
        let newAdminKey = try await keys.bootstrapAdmin(configuredKey: configuration.adminKey)
        let intelligence = IntelligenceService(store: store, clock: clock,
                                               recomputeAfterMillis: Int64(configuration.intelligenceRecomputeSeconds * 1000))
        // Subscribed before anything publishes, so the consumer sees every committed movement.
        let movementEvents = bus.subscribe(topic: MovementEvent.topic)
        let alertEvents = bus.subscribe(topic: AlertEvent.topic)
        let webhookPolicy = try configuration.webhookPolicy()
        let deploymentKey = configuration.deploymentKey
        let webhookSecrets = WebhookSecretSealer(deploymentKey: deploymentKey)
        if !webhookSecrets.encrypts {
            logger.warning("webhook secrets are stored in clear: set security.secret_key (or admin.key) to encrypt them")
        }
        let webhooks = WebhookService(store: store, clock: clock, policy: webhookPolicy, sealer: webhookSecrets)
        let limiter: any RateLimiter = if let redis, let redisCache {
            RedisRateLimiter(redis: redis, keyPrefix: configuration.redisKeyPrefix, rate: configuration.rateLimitRate, burst: configuration.rateLimitBurst, breaker: redisCache.breaker)
        } else {
            InProcessRateLimiter(rate: configuration.rateLimitRate, burst: configuration.rateLimitBurst)
        }
        var health = [
            HealthCheck(name: "database", required: true) {
                do { try await store.ping(); return nil } catch { return "\(error)" }
            },
        ]
        var kafkaPublisher: KafkaEventPublisher?
        var intelligenceConsumer: any Service = IntelligenceConsumer(events: movementEvents, intelligence: intelligence, logger: logger)
        var kafkaServices: (producer: [any Service], consumers: [any Service]) = ([], [])
        if let brokers = configuration.kafkaBrokers {
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
            }
            // Its flush at shutdown gets a fifth of the shutdown bound: what it cannot deliver stays in the outbox.
            let producer = try KafkaProducer(configuration: .producer(brokers: brokers, security: security),
                                             shutdownFlushMillis: Int32(configuration.shutdownTimeoutSeconds * 200), onError: onError)
            let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security, group: configuration.kafkaConsumerGroup),
                                             topics: [CommandIngestion.topic], maxBatch: 5000, onError: onError)
            let signer = MovementEventSigner(deploymentKey: configuration.deploymentKey)
            let verifier = VerifiedMovements(signer: signer, logger: logger)
            if !configuration.deploymentKey.isConfigured {
                logger.warning("neither security.secret_key nor admin.key is set: this node accepts only its own movement events from Kafka; give every node the same security.secret_key")
            }
            kafkaPublisher = KafkaEventPublisher(producer: producer, local: bus, signer: signer, clock: clock)
            kafkaServices = ([producer], [CommandIngestion(
                consumer: consumer, producer: producer, stock: stock, consumerGroup: configuration.kafkaConsumerGroup,
                replayWindowMillis: Int64(configuration.kafkaCommandReplayWindowHours * 3_600_000),
                describeRefusal: Problem.json(for:), clock: clock, logger: logger)])
            // A new group starts at the newest movement: replaying the topic's retained history would open and
            // resolve alerts (and call webhooks) for levels long past. An existing group resumes where it stopped.
            intelligenceConsumer = MovementIntelligenceConsumer(
                consumer: try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security, group: configuration.kafkaConsumerGroup + ".intelligence",
                                                                     startAtLatest: true),
                                            topics: [MovementEvent.topic], onError: onError),
                intelligence: intelligence, verifier: verifier, logger: logger)
            if cache is InProcessStockCache {
                // A group of this node's own, from the newest movement: every node sees every movement.
                let group = configuration.kafkaConsumerGroup + ".cache." + String(UInt64.random(in: 0...UInt64.max), radix: 16)
                kafkaServices.consumers.append(MovementCacheCoherence(
                    consumer: try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security, group: group, startAtLatest: true),
                                                topics: [MovementEvent.topic], onError: onError),
                    cache: cache, verifier: verifier))
            }
        }
        if let kafkaPublisher {
            health.append(HealthCheck(name: "kafka", required: false) { kafkaPublisher.problem() })
        }
        if let redis {
            // Optional: without Redis reads come from the database and limits are kept per node ("degraded").
            health.append(HealthCheck(name: "redis", required: false) {
                do { _ = try await redis.send(["PING"]); return nil } catch { return "\(error); reads served by the database, rate limits per node" }
            })
        }
        _ = Observability.registry
        var liveSettings = LiveFeed.Settings()
        liveSettings.maxStreams = configuration.liveMaxStreams
        liveSettings.maxStreamsPerOwner = configuration.liveMaxStreamsPerKey
        let live = LiveFeed(source: .storage(store), settings: liveSettings, logger: logger)
        let router = BazaarRouter(services: APIServices(
            stock: stock, intelligence: intelligence, webhooks: webhooks, keys: keys, limiter: limiter, healthChecks: health, metricsText: { Observability.render() }, clock: clock,
            reservations: reservations,
            // Only MySQL answers consistency tokens (the GTID of a write); on SQLite the header has nothing to wait for.
            consistencyTokens: store is MySQLStockStore ? ConsistencyTokenSigner(deploymentKey: deploymentKey) : nil,
            addressLimit: configuration.httpAddressRateLimitRate > 0
                ? AddressRateLimit(ratePerSecond: configuration.httpAddressRateLimitRate, burst: configuration.httpAddressRateLimitBurst) : nil,
            live: live))
        return BazaarSystem(
            configuration: configuration, store: store, stock: stock, keys: keys, intelligence: intelligence, reservations: reservations,
            reservationExpiry: ReservationExpiry(reservations: reservations, clock: clock, logger: logger), bus: bus,
            relay: OutboxRelay(store: store, publisher: kafkaPublisher ?? bus, signal: signal, logger: logger,
                               shutdownDrainBudget: .milliseconds(Int64(configuration.shutdownTimeoutSeconds * 400))),
            router: router, live: live, newAdminKey: newAdminKey, logger: logger,
            intelligenceConsumer: intelligenceConsumer,
            webhookDispatcher: WebhookDispatcher(
                events: alertEvents, store: store, transport: HTTPWebhookTransport(policy: webhookPolicy), sealer: webhookSecrets, clock: clock, logger: logger,
                retryBase: .milliseconds(Int64(configuration.webhookRetryBaseSeconds * 1000)),
                timeout: .milliseconds(Int64(configuration.webhookTimeoutSeconds * 1000))),
            redisServices: redisCache.map { [RedisCoherence(configuration: $0.redis.configuration, cache: $0, logger: logger)] } ?? [],
            kafkaProducerServices: kafkaServices.producer, kafkaConsumerServices: kafkaServices.consumers)
    }

    static func openStore(_ configuration: BazaarConfiguration, clock: WallClock) async throws -> any StockStore {
        switch try DatabaseLocation(configuration.databaseURL) {
        case .sqlite(let path):
            return try SQLiteStockStore(path: path, clock: clock, statementTimeoutMillis: configuration.databaseStatementTimeoutMillis)
        case .mysql(let url):
            do {
                var options = MySQLStockStore.Options(primary: try MySQLConfiguration(url: url),
                                                      replicas: try configuration.replicaURLs.map { try MySQLConfiguration(url: $0) })
                options.primaryConnections = configuration.databasePoolSize
                options.replicaConnections = max(2, configuration.databasePoolSize / 2)
                options.replicaMaxLagSeconds = configuration.replicaMaxLagSeconds
                options.replicaWaitMillis = configuration.replicaWaitMillis
                options.statementTimeoutMillis = configuration.databaseStatementTimeoutMillis
                return MySQLStockStore(options: options, clock: clock)
            } catch let error as MySQLError {
                throw ConfigurationError(error.message)
            }
        }
    }

    /// The intelligence's recompute pass (issue 14): thresholds of due items, store by store, shared with the
    /// other nodes by a lease per store.
    public var intelligencePass: IntelligencePass {
        IntelligencePass(intelligence: intelligence, logger: logger, interval: .milliseconds(Int64(configuration.intelligencePassIntervalSeconds * 1000)))
    }

    /// Services that only some storage engines have (the replica monitor of MySQL).
    var storageServices: [any Service] {
        if let mysql = store as? MySQLStockStore, !mysql.options.replicas.isEmpty { return [mysql.replicaMonitor] }
        return []
    }

    /// The HTTP application with every long-lived part as a service of its group. On SIGTERM/SIGINT the
    /// server stops first (in-flight requests finish), then the outbox relay drains, then storage closes.
    public func application() -> some ApplicationProtocol {
        Application(
            responder: router.responder,
            server: .bazaarHTTP1(idleTimeout: .milliseconds(Int64(configuration.httpIdleTimeoutSeconds * 1000)),
                                 readTimeout: .milliseconds(Int64(configuration.httpReadTimeoutSeconds * 1000))),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "bazaar"),
            services: [StorageCloser(store: store, logger: logger)] + storageServices + redisServices + kafkaProducerServices
                + [MaintenanceService(store: store, logger: logger), reservationExpiry, intelligenceConsumer, intelligencePass, webhookDispatcher]
                + kafkaConsumerServices + [relay, live],
            logger: logger)
    }
}

extension BazaarSystem {
    /// Runs the node until SIGTERM or SIGINT, then shuts down within `shutdown.timeout_seconds`: the server stops
    /// accepting and finishes the requests in flight, the relay publishes what it can of the outbox in part of the
    /// bound (the rest stays committed in the outbox for the next start, on any node), services still running when
    /// three quarters of the bound are spent are cancelled, and if something still has not returned at the bound
    /// (a call into a C library cannot be cancelled) the process exits anyway: everything answered is committed,
    /// an unpublished event stays in the outbox, an unrecorded webhook attempt and an uncommitted Kafka batch are
    /// made again later. Start and end are logged.
    public func run() async throws {
        let bound = Duration.milliseconds(Int64(configuration.shutdownTimeoutSeconds * 1000))
        // The watchdog last: a group tells its services to shut down in reverse order, so it hears first.
        var group = ServiceGroupConfiguration(services: [application(), ShutdownWatchdog(bound: bound, logger: logger)], logger: logger)
        group.gracefulShutdownSignals = [.sigterm, .sigint]
        group.maximumGracefulShutdownDuration = bound * 0.75
        try await ServiceGroup(configuration: group).run()
        if let since = ShutdownWatchdog.began.withLock({ $0 }) {
            logger.notice("shutdown complete", metadata: ["milliseconds": "\(ShutdownWatchdog.millis(since: since))"])
        }
    }
}

/// Logs the start of a graceful shutdown, and ends the process if the shutdown outlasts its bound.
struct ShutdownWatchdog: Service {
    static let began = Mutex<ContinuousClock.Instant?>(nil)
    let bound: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let start = ContinuousClock.now
        Self.began.withLock { $0 = start }
        logger.notice("shutting down", metadata: ["bound_seconds": "\(bound.components.seconds)"])
        // Unstructured: it must outlive the group's cancellation of this service.
        Task.detached { [logger, bound] in
            try? await Task.sleep(until: start + bound)
            logger.warning("shutdown bound reached; exiting now (what was not finished is picked up by the next start)",
                           metadata: ["milliseconds": "\(Self.millis(since: start))"])
            exit(0)
        }
    }

    static func millis(since start: ContinuousClock.Instant) -> Int64 {
        let took = ContinuousClock.now - start
        return took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
    }
}

/// Closes storage once everything that uses it has stopped (it is first in the group, so it stops last).
struct StorageCloser: Service {
    let store: any StockStore
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
        logger.info("storage closed")
    }
}
