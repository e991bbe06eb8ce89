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
    /// Drops every cached level when the database went back in time; nil without a cache.
    public let ledgerClockWatch: LedgerClockWatch?
    /// The Kafka producer (stops after the relay that uses it) and the consumers: command ingestion, cache
    /// coherence (stop before it).
    let kafkaProducerServices: [any Service]
    let kafkaConsumerServices: [any Service]
    /// Fills the in-process cache from storage after start (`cache.warm_limit`); nil when there is nothing to warm.
    public let cacheWarmer: CacheWarmer?

    /// Opens storage (migrating it), bootstraps the admin key and wires the node: storage, cache, services, Kafka,
    /// health checks, router. Each part is made by one builder below, in the order the parts depend on each other.
    public static func start(configuration: BazaarConfiguration, logger: Logger, clock: WallClock = .system) async throws -> BazaarSystem {
        let store = try await makeStorage(configuration, clock: clock)
        let catalog = CatalogIndex(store: store)
        try await catalog.warm()
        let signal = OutboxSignal()
        let bus = InProcessEventBus()
        let redis = try makeRedis(configuration, logger: logger)
        let cache = makeCache(configuration, redis: redis)
        let stock = StockService(store: store, cache: cache, catalog: catalog, outboxSignal: signal)
        let reservations = ReservationService(stock: stock, clock: clock)
        let keys = APIKeyService(store: store, clock: clock) { keyID in await redis?.revocations.announce(keyID) }
        let newAdminKey = try await keys.bootstrapAdmin(configuredKey: configuration.adminKey)
        let intelligence = IntelligenceService(store: store, clock: clock,
                                               recomputeAfterMillis: Int64(configuration.intelligenceRecomputeSeconds * 1000),
                                               currentLevel: { [store, cache] storeID, productID, minimumVersion in
                                                   // What the node holds (written or read here, or sent by Redis), else
                                                   // storage: no cache fill, no hit or miss counted for a read no client made.
                                                   // The cache itself, not `StockService.levelInMemory`: that one answers
                                                   // nil under a caller's consistency token, which an evaluation run in a
                                                   // request's task would inherit (a CI run of the test below met it).
                                                   if let held = cache.levelInMemory(StockKey(storeID: storeID, productID: productID)),
                                                      held.version >= minimumVersion { return held }
                                                   return try await store.level(storeID: storeID, productID: productID)
                                               })
        // Subscribed before anything publishes, so the consumers see every committed event.
        let movementEvents = bus.subscribe(topic: MovementEvent.topic)
        let alertEvents = bus.subscribe(topic: AlertEvent.topic)
        let webhookPolicy = try configuration.webhookPolicy()
        let webhookSecrets = WebhookSecretSealer(deploymentKey: configuration.deploymentKey)
        if !webhookSecrets.encrypts {
            logger.warning("webhook secrets are stored in clear: set security.secret_key (or admin.key) to encrypt them")
        }
        let webhooks = WebhookService(store: store, clock: clock, policy: webhookPolicy, sealer: webhookSecrets)
        let kafka = try makeKafka(configuration, bus: bus, stock: stock, intelligence: intelligence, cache: cache, clock: clock, logger: logger)
        var liveSettings = LiveFeed.Settings()
        liveSettings.maxStreams = configuration.liveMaxStreams
        liveSettings.maxStreamsPerOwner = configuration.liveMaxStreamsPerKey
        let live = LiveFeed(source: .storage(store), settings: liveSettings, logger: logger)
        _ = Observability.registry
        let router = makeRouter(configuration, APIServices(
            stock: stock, intelligence: intelligence, webhooks: webhooks, keys: keys, limiter: makeRateLimiter(configuration, redis: redis),
            healthChecks: makeHealthChecks(store: store, kafka: kafka?.publisher, redis: redis?.client),
            metricsText: { Observability.render() }, clock: clock, reservations: reservations, live: live,
            catalog: CatalogService(store: store, index: stock.catalog, clock: clock, defaultFillRate: configuration.intelligenceDefaultFillRate)),
            store: store)
        return BazaarSystem(
            configuration: configuration, store: store, stock: stock, keys: keys, intelligence: intelligence, reservations: reservations,
            reservationExpiry: ReservationExpiry(reservations: reservations, clock: clock, logger: logger), bus: bus,
            relay: OutboxRelay(store: store, publisher: kafka?.publisher ?? bus, signal: signal, logger: logger,
                               shutdownDrainBudget: .milliseconds(Int64(configuration.shutdownTimeoutSeconds * 400))),
            router: router, live: live, newAdminKey: newAdminKey, logger: logger,
            intelligenceConsumer: kafka?.intelligenceConsumer ?? IntelligenceConsumer(events: movementEvents, intelligence: intelligence, logger: logger),
            webhookDispatcher: WebhookDispatcher(
                events: alertEvents, store: store, transport: HTTPWebhookTransport(policy: webhookPolicy), sealer: webhookSecrets, clock: clock, logger: logger,
                retryBase: .milliseconds(Int64(configuration.webhookRetryBaseSeconds * 1000)),
                timeout: .milliseconds(Int64(configuration.webhookTimeoutSeconds * 1000))),
            redisServices: redis.map { redis in
                [RedisCoherence(configuration: redis.client.configuration, cache: redis.cache, revocations: redis.revocations, keys: keys, logger: logger)]
            } ?? [],
            ledgerClockWatch: makeLedgerClockWatch(configuration, store: store, cache: cache, redis: redis, logger: logger),
            kafkaProducerServices: kafka?.producerServices ?? [], kafkaConsumerServices: kafka?.consumerServices ?? [],
            cacheWarmer: makeCacheWarmer(configuration, store: store, cache: cache, logger: logger))
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
                options.concurrentFlushes = configuration.databaseConcurrentFlushes
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

    /// The node's long-lived parts, in the order the service group starts them. The group stops them in reverse, so
    /// each part comes after what it uses and stops before it:
    /// 1. storage closes last, after everything that reads or writes it;
    /// 2. the replica monitor, Redis coherence and the ledger clock watch, which reads rely on;
    /// 3. the Kafka producer, which the relay publishes through (it flushes once the relay has stopped);
    /// 4. the background work on storage: maintenance, reservation expiry, the intelligence consumer and pass, the
    ///    webhook dispatcher, the cache warmer (it stops mid-warm);
    /// 5. the Kafka consumers (command ingestion writes; cache coherence feeds the cache);
    /// 6. the outbox relay, early in a shutdown: it drains what it can within its budget while the producer still runs;
    /// 7. the live feed, first: open streams end before the server stops.
    /// The HTTP server itself stops before all of them (in-flight requests finish first).
    var services: [any Service] {
        [StorageCloser(store: store, logger: logger)]
            + storageServices
            + redisServices
            + (ledgerClockWatch.map { [$0] } ?? [])
            + kafkaProducerServices
            + [MaintenanceService(store: store, logger: logger), reservationExpiry, intelligenceConsumer, intelligencePass, webhookDispatcher]
            + (cacheWarmer.map { [$0] } ?? [])
            + kafkaConsumerServices
            + [relay, live]
    }

    /// The HTTP application with every long-lived part as a service of its group (`services`, in order).
    public func application() -> some ApplicationProtocol {
        // The `Server` field, which answers from the connection (`WarmReadOnTheConnection`) carry too.
        let serverName = "bazaar"
        return Application(
            responder: router.responder,
            server: .bazaarHTTP1(idleTimeout: .milliseconds(Int64(configuration.httpIdleTimeoutSeconds * 1000)),
                                 readTimeout: .milliseconds(Int64(configuration.httpReadTimeoutSeconds * 1000)),
                                 warmReads: WarmReadOnTheConnection(read: router.warmRead, addressLimit: router.addressLimit, serverName: serverName)),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: serverName),
            services: services,
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
