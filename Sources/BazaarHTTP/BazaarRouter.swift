public import BazaarCore
public import Hummingbird

/// What the HTTP layer needs from the rest of the system.
public struct APIServices: Sendable {
    public var stock: StockService
    public var intelligence: IntelligenceService
    public var webhooks: WebhookService
    public var keys: APIKeyService
    public var limiter: any RateLimiter
    public var healthChecks: [HealthCheck]
    public var metricsText: @Sendable () -> String
    public var clock: WallClock
    /// Failed authentications per client address.
    public var authFailures: FailedAuthThrottle
    /// Signs and checks `Bazaar-Consistency` tokens; nil where storage answers none (SQLite): the header is ignored.
    public var consistencyTokens: ConsistencyTokenSigner?
    /// Requests per client address, before authentication; nil: no such limit.
    public var addressLimit: AddressRateLimit?
    /// Live updates (`/v1/stream`): a service of the node, which must run for streams to deliver (the default,
    /// for routers built without a node, never runs: its streams stay open and silent).
    public var live: LiveFeed
    public var reservations: ReservationService
    public var purchaseOrders: PurchaseOrderService
    /// Stores and products.
    public var catalog: CatalogService
    /// The dashboard's reads.
    public var overview: OverviewService
    /// The archive runs of the ledger (`bazaar archive`), named by the ledger's history answers.
    public var ledgerArchives: LedgerArchives

    public init(stock: StockService, intelligence: IntelligenceService, webhooks: WebhookService, keys: APIKeyService, limiter: any RateLimiter, healthChecks: [HealthCheck],
                metricsText: @escaping @Sendable () -> String, clock: WallClock = .system, reservations: ReservationService? = nil,
                authFailures: FailedAuthThrottle = FailedAuthThrottle(), consistencyTokens: ConsistencyTokenSigner? = nil,
                addressLimit: AddressRateLimit? = nil, live: LiveFeed? = nil, catalog: CatalogService? = nil,
                overview: OverviewService? = nil) {
        self.stock = stock
        self.intelligence = intelligence
        self.webhooks = webhooks
        self.keys = keys
        self.limiter = limiter
        self.healthChecks = healthChecks
        self.metricsText = metricsText
        self.clock = clock
        self.authFailures = authFailures
        self.consistencyTokens = consistencyTokens
        self.addressLimit = addressLimit
        self.reservations = reservations ?? ReservationService(stock: stock, clock: clock)
        self.purchaseOrders = PurchaseOrderService(stock: stock, clock: clock)
        self.catalog = catalog ?? CatalogService(store: stock.store, index: stock.catalog, clock: clock)
        // Every engine keeps the overview's aggregates; a store that does not must be given an `overview`.
        self.overview = overview ?? OverviewService(store: stock.store as! any OverviewService.Storage, catalog: stock.catalog)
        self.live = live ?? LiveFeed(source: .storage(stock.store))
        // Both engines keep archive runs beside the ledger.
        self.ledgerArchives = LedgerArchives(store: stock.store as? any LedgerArchiveStore)
    }
}

/// The router with every route, and the table of those routes (checked against `openapi.yaml` by a test).
public struct BazaarRouter: Sendable {
    public let responder: RouterResponder<BazaarRequestContext>
    public let routes: RouteTable
    /// The reads of `GET /get-stock` answered from memory (`WarmReadMiddleware`).
    public let readsFromMemory: ReadsFromMemory
    /// The same check, for the connection to answer a warm read before the router (`bazaarHTTP1(warmReads:)`).
    public let warmRead: WarmRead
    /// The per-address limit the router applies first; the connection's answers apply it too.
    public let addressLimit: AddressRateLimit?

    /// Middleware order, outermost first: metrics (sees the final status), problem+json and request id, the
    /// per-address limit, then per route group: authentication and rate limiting (for `GET /get-stock`, after the warm
    /// read answered from memory).
    public init(services: APIServices) {
        // HEAD on every GET route (monitors probe `HEAD /health/live`): the GET's answer without its body.
        let router = Router(context: BazaarRequestContext.self, options: .autoGenerateHeadEndpoints)
        let table = RouteTableBox()
        // Middleware applies to the routes added after it, so it goes first; it wraps unmatched requests too.
        router.add(middleware: RequestMetricsMiddleware())
        // Every request with its id, at debug level (a level check and nothing more otherwise).
        router.add(middleware: LogRequestsMiddleware(.debug))
        router.add(middleware: ProblemMiddleware(routes: table))
        // Before anything that costs (a token's HMAC, a key's hash, a query): a flood is refused for a table lookup.
        if let limit = services.addressLimit { router.add(middleware: AddressLimitMiddleware(limit: limit)) }
        var registrar = RouteRegistrar()
        OperationsController(health: CachedHealth(checks: services.healthChecks), keys: services.keys, failures: services.authFailures,
                             metricsText: services.metricsText)
            .register(&registrar, on: router)
        // Consistency tokens after authentication: a caller without a valid key learns that first (401), and the
        // token is still checked before anything reaches storage.
        let auth = AuthMiddleware(keys: services.keys, limiter: services.limiter, failures: services.authFailures)
        let consistency = ConsistencyMiddleware(signer: services.consistencyTokens)
        let authenticated = router.group().add(middleware: auth).add(middleware: consistency)
        // The warm read answered from memory when it can be, else as every authenticated route (issue 15).
        let readsFromMemory = ReadsFromMemory()
        let warmRead = WarmRead(keys: services.keys, limiter: services.limiter, stock: services.stock, count: readsFromMemory)
        let warmReads = router.group()
            .add(middleware: WarmReadMiddleware(read: warmRead))
            .add(middleware: auth).add(middleware: consistency)
        StockController(stock: services.stock, transfers: TransferService(stock: services.stock, clock: services.clock),
                        archives: services.ledgerArchives)
            .register(&registrar, on: authenticated, reads: warmReads)
        TransferController(transfers: TransferService(stock: services.stock, clock: services.clock)).register(&registrar, on: authenticated)
        CatalogController(catalog: services.catalog).register(&registrar, on: authenticated)
        APIKeyController(keys: services.keys).register(&registrar, on: authenticated)
        IntelligenceController(intelligence: services.intelligence, stock: services.stock).register(&registrar, on: authenticated)
        WebhookController(webhooks: services.webhooks).register(&registrar, on: authenticated)
        OverviewController(overview: services.overview, intelligence: services.intelligence).register(&registrar, on: authenticated)
        LiveController(stock: services.stock, feed: services.live, keys: services.keys).register(&registrar, on: authenticated)
        ReservationController(reservations: services.reservations).register(&registrar, on: authenticated)
        PurchaseOrderController(orders: services.purchaseOrders,
                                actions: ReplenishmentActions(intelligence: services.intelligence, orders: services.purchaseOrders))
            .register(&registrar, on: authenticated)
        table.set(registrar.table)
        self.responder = router.buildResponder()
        self.routes = registrar.table
        self.readsFromMemory = readsFromMemory
        self.warmRead = warmRead
        self.addressLimit = services.addressLimit
    }
}
