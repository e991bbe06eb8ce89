import ArgumentParser
import BazaarApp
import Hummingbird
import Logging

/// `bazaar`: the stock service and its tools. Running it with no command serves the API.
@main
struct Bazaar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bazaar",
        abstract: "Bazaar: exact, audited stock levels for retail chains.",
        subcommands: [Serve.self, Migrate.self, Demo.self, ForecastCommand.self, SimulateCommand.self],
        defaultSubcommand: Serve.self)
}

/// Options shared by every command; each maps to a configuration key (environment `BAZAAR_*`).
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "A JSON config file (also BAZAAR_CONFIG_FILE).") var config: String?
    @Option(help: "Address to listen on (BAZAAR_HTTP_HOST, default 127.0.0.1).") var httpHost: String?
    @Option(help: "Port to listen on (BAZAAR_HTTP_PORT, default 8080).") var httpPort: Int?
    @Option(help: "sqlite:///path/file.sqlite or mysql://user:pass@host:port/db (BAZAAR_DATABASE_URL, default sqlite://./bazaar.sqlite).")
    var databaseURL: String?
    @Option(name: .customLong("database-replica-urls"), help: "Comma-separated mysql:// URLs for reads (BAZAAR_DATABASE_REPLICA_URLS).")
    var databaseReplicaURLs: String?
    @Option(help: "redis://host:port/db (BAZAAR_REDIS_URL); unset means the in-process cache.") var redisURL: String?
    @Option(help: "host:port,host:port (BAZAAR_KAFKA_BROKERS); unset means the in-process event bus.") var kafkaBrokers: String?
    @Option(help: "Admin API key to create at start if absent (BAZAAR_ADMIN_KEY).") var adminKey: String?
    @Option(help: "Requests a second per API key (BAZAAR_RATE_LIMIT_RATE, default 1000).") var rateLimitRate: Double?
    @Option(help: "Burst size per API key (BAZAAR_RATE_LIMIT_BURST, default 2000).") var rateLimitBurst: Double?
    @Option(help: "trace, debug, info, notice, warning, error or critical (BAZAAR_LOG_LEVEL, default info).") var logLevel: String?
    @Option(help: "text or json (BAZAAR_LOG_FORMAT, default text).") var logFormat: String?

    func load() async throws -> BazaarConfiguration {
        let given: [String: String?] = [
            "http.host": httpHost, "http.port": httpPort.map(String.init), "database.url": databaseURL,
            "database.replica_urls": databaseReplicaURLs, "redis.url": redisURL, "kafka.brokers": kafkaBrokers,
            "admin.key": adminKey, "rate_limit.rate": rateLimitRate.map { "\($0)" },
            "rate_limit.burst": rateLimitBurst.map { "\($0)" }, "log.level": logLevel, "log.format": logFormat,
        ]
        do {
            return try await BazaarConfiguration.load(commandLine: given.compactMapValues { $0 }, configFile: config)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    func logger(_ configuration: BazaarConfiguration) -> Logger {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let json = configuration.logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "bazaar")
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP service (the default command).")
    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Load the demo chain first if the database has no stores.") var demo = false

    func run() async throws {
        let configuration = try await options.load()
        let logger = options.logger(configuration)
        let system = try await BazaarSystem.start(configuration: configuration, logger: logger)
        if let key = system.newAdminKey {
            print("Created an admin API key (shown once; keep it safe): \(key)")
        }
        if demo, let summary = try await DemoData().load(into: system, logger: logger) {
            print("Loaded demo data: \(summary.stores) stores, \(summary.products) products, \(summary.movements) movements.")
        }
        print("Bazaar listening on http://\(configuration.httpHost):\(configuration.httpPort) (dashboard at /, contract at /openapi.yaml)")
        try await system.application().runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the database schema, then exit.")
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try await options.load()
        let system = try await BazaarSystem.start(configuration: configuration, logger: options.logger(configuration))
        try await system.store.close()
        print("Schema is up to date.")
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a demo chain with days of history into an empty database, then exit.")
    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Number of stores.") var stores = 300
    @Option(help: "Number of products in the catalog.") var products = 2000
    @Option(help: "Products carried by each store.") var productsPerStore = 25
    @Option(help: "Days of history.") var days = 90

    func run() async throws {
        let configuration = try await options.load()
        let logger = options.logger(configuration)
        let system = try await BazaarSystem.start(configuration: configuration, logger: logger)
        if let key = system.newAdminKey { print("Created an admin API key (shown once; keep it safe): \(key)") }
        var demo = DemoData()
        demo.stores = stores
        demo.products = products
        demo.productsPerStore = productsPerStore
        demo.days = days
        if let summary = try await demo.load(into: system, logger: logger) {
            print("Loaded demo data: \(summary.stores) stores, \(summary.products) products, \(summary.movements) movements.")
        } else {
            print("The database already has stores; demo data not loaded.")
        }
        try await system.store.close()
    }
}
