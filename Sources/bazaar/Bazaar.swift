import ArgumentParser
import BazaarApp
import Foundation
import Hummingbird
import Logging
import Synchronization

/// `bazaar`: the stock service and its tools. Running it with no command serves the API.
@main
struct Bazaar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bazaar",
        abstract: "Bazaar: exact, audited stock levels for retail chains.",
        version: BazaarVersion.current,
        subcommands: [Serve.self, Migrate.self, Demo.self, Doctor.self, Archive.self, CacheCommand.self, IntelligenceCommand.self, ForecastCommand.self, SimulateCommand.self],
        defaultSubcommand: Serve.self)

    /// ArgumentParser's `main`, except that an error thrown while a command runs is first worded as a plain
    /// sentence with its fix (`CommandLineErrors`): ArgumentParser would print a bare Swift error as Swift shows it.
    /// Its own errors (a bad flag, `--help`, `--version`, validation) pass through unchanged: they already read well.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser's own errors (help, version, validation, exit codes; some of them internal types)
            // already read well and print usage where it helps.
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { exit(withError: error) }
            exit(withError: CommandFailure(CommandLineErrors.sentence(for: error)))
        }
    }
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
            throw ValidationError(CommandLineErrors.sentence(for: error))
        }
    }

    /// Runs `body` with the configuration, wording any error it throws with that configuration in hand (the
    /// sentence can then name the database or broker that failed, passwords hidden).
    func run(_ body: (BazaarConfiguration) async throws -> Void) async throws {
        let configuration = try await load()
        do {
            try await body(configuration)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw CommandFailure(CommandLineErrors.sentence(for: error, configuration: configuration))
        }
    }

    func logger(_ configuration: BazaarConfiguration) -> Logger {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let json = configuration.logFormat == "json"
        LoggingSystem.bootstrap { label in
            BazaarLogHandler(label: label, level: level, format: json ? .json : .text)
        }
        return Logger(label: "bazaar")
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP service (the default command).",
        discussion: BazaarConfiguration.settingsHelp)
    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Load the demo chain first if the database has no stores.") var demo = false

    func run() async throws {
        try await options.run { configuration in
            let logger = options.logger(configuration)
            let system = try await BazaarSystem.start(configuration: configuration, logger: logger)
            if let key = system.newAdminKey {
                print("Created an admin API key (shown once; keep it safe): \(key)")
            }
            // The small default chain, for trying the dashboard: its history is published, so the intelligence opens the
            // alerts it implies (its recompute pass computes thresholds, not alerts). `bazaar demo` publishes nothing
            // unless asked: at chain sizes the events would hold up the relay for hours.
            var defaultDemo = DemoData()
            defaultDemo.publishHistory = true
            if demo, let summary = try await defaultDemo.load(into: system, logger: logger, progress: DemoProgress.report) {
                DemoProgress.finish()
                print("Loaded demo data: \(summary.stores) stores, \(summary.products) products, \(summary.movements) movements.")
            }
            print("Bazaar listening on http://\(configuration.httpHost):\(configuration.httpPort) (dashboard at /, contract at /openapi.yaml)")
            try await system.run()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the database schema, then exit.")
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await options.run { configuration in
            let system = try await BazaarSystem.start(configuration: configuration, logger: options.logger(configuration))
            try await system.store.close()
            print("Schema is up to date.")
        }
    }
}

/// `bazaar cache drop`: every cached level dropped on every node (README, "Operations"), for a database restored or
/// failed over while the nodes ran, which their own check may not see.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cache", abstract: "The shared read cache (Redis).", subcommands: [Drop.self])

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop every cached level on every node, then exit.",
            discussion: """
                For a database that went back in time while the nodes ran (restored from a backup, a failover that lost \
                commits): removes every level from Redis and tells every node to empty its own cache within a second. \
                Levels refill from the database on the next reads. The nodes also do this by themselves when they see \
                the database's ledger clock go back or its server change.
                """)
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            try await options.run { configuration in
                guard configuration.redisURL != nil else {
                    throw CommandFailure("Nothing to drop: without redis.url (--redis-url, BAZAAR_REDIS_URL) each node's cache is its own; restart the nodes to empty them.")
                }
                let system = try await BazaarSystem.start(configuration: configuration, logger: options.logger(configuration))
                guard let watch = system.ledgerClockWatch else {
                    try await system.store.close()
                    throw CommandFailure("Nothing to drop: cache.capacity is 0, so no node caches levels.")
                }
                let dropped = try await watch.dropEverything()
                try await system.store.close()
                guard dropped else {
                    throw CommandFailure("The cache's watermark kept changing while it was being moved on (nodes checking at the same moment): run the command again.")
                }
                print("Dropped every cached level: Redis holds none, and every node empties its own cache within a second.")
            }
        }
    }
}

/// `bazaar archive`: the ledger's rows recorded before a cut-off go to gzip'd JSON Lines files (README, "Ledger
/// retention"); each store x product keeps its balance at the cut-off; re-running resumes an interrupted run.
struct Archive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move the ledger rows recorded before a date to compressed files, keeping each pair's balance at that date.",
        discussion: """
            Writes DIR/ledger-<first>-<last>/ledger-YYYY-MM.jsonl.gz (one file per month) and manifest.json, syncs them, \
            then records each store x product's balance at the cut-off and deletes the rows in batches. Safe to kill \
            and run again: an interrupted run is resumed, a finished one is a no-op. The cut-off must be older than the \
            idempotency window (at least 7 days by default) and the outbox must hold no movement before it.
            """)
    @OptionGroup var options: ConfigurationOptions
    @Option(help: "The cut-off: a date (midnight UTC) such as 2026-01-01, or an RFC 3339 time.") var before: String
    @Option(help: "The folder to write the archive files into (created if needed).") var output: String
    @Option(help: "Ledger rows deleted per transaction (writers wait for one batch at most).") var batchRows = 5_000

    func run() async throws {
        try await options.run { configuration in
            let report = try await LedgerArchiver.run(configuration: configuration, before: before, output: output, batchRows: batchRows)
            print(report.summary)
        }
    }
}

/// `bazaar doctor`: the same configuration as `serve`, every dependency it names tried once, one line each.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every configured dependency (database primary and replicas, Redis, Kafka): one line each, exit 1 if any fails.")
    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Seconds to wait for each dependency.") var timeout: UInt32 = 5

    func run() async throws {
        try await options.run { configuration in
            print("bazaar \(BazaarVersion.current)")
            let checks = await BazaarApp.Doctor.run(configuration, timeoutSeconds: max(1, timeout))
            for check in checks { print(check.line) }
            if checks.contains(where: { !$0.ok }) { throw ExitCode.failure }
        }
    }
}

/// The demo loader's progress on standard error (standard output keeps the results): one line rewritten in
/// place on a terminal, a line per tenth of the days otherwise (logs stay short).
enum DemoProgress {
    static let terminal = isatty(STDERR_FILENO) == 1
    static let printedTenth = Mutex(0)

    @Sendable static func report(_ progress: DemoData.Progress) {
        let line = "Loading demo data: \(progress.daysDone)/\(progress.days) days, \(progress.movements) movements"
        if terminal {
            FileHandle.standardError.write(Data(("\r" + line).utf8))
        } else {
            // A line each time another tenth of the days is done (the last one included).
            let tenth = progress.daysDone * 10 / max(1, progress.days)
            let isNew = printedTenth.withLock { printed in
                defer { printed = max(printed, tenth) }
                return tenth > printed
            }
            if isNew { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }

    static func finish() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a demo chain with days of history into an empty database, then exit.",
        discussion: """
            The history is written straight into the database in large transactions (a million store x product pairs \
            with two weeks of history in a few minutes on SQLite), every level the sum of its ledger. It publishes no \
            events unless --publish-history: the stock intelligence evaluates the loaded pairs on its own pass.
            """)
    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Number of stores.") var stores = 300
    @Option(help: "Number of products in the catalog.") var products = 2000
    @Option(help: "Products carried by each store.") var productsPerStore = 25
    @Option(help: "Days of history.") var days = 90
    @Flag(help: "Queue the history's movements in the outbox as live writes would (events to Kafka, webhooks and the movement consumer); off by default: history is not news.")
    var publishHistory = false

    var demo: DemoData {
        var demo = DemoData()
        demo.stores = stores
        demo.products = products
        demo.productsPerStore = productsPerStore
        demo.days = days
        demo.publishHistory = publishHistory
        return demo
    }

    /// Sizes are checked before anything is opened, and refused with the range to use.
    func validate() throws {
        do { try demo.validate() } catch { throw ValidationError(CommandLineErrors.sentence(for: error)) }
    }

    func run() async throws {
        try await options.run { configuration in
            let logger = options.logger(configuration)
            let system = try await BazaarSystem.start(configuration: configuration, logger: logger)
            if let key = system.newAdminKey { print("Created an admin API key (shown once; keep it safe): \(key)") }
            do {
                if let summary = try await demo.load(into: system, logger: logger, progress: DemoProgress.report) {
                    DemoProgress.finish()
                    print("Loaded demo data: \(summary.stores) stores, \(summary.products) products, \(summary.movements) movements.")
                } else {
                    print("The database already has stores; demo data not loaded. Use an empty database (--database-url) for a new demo.")
                }
            } catch {
                DemoProgress.finish()
                try? await system.store.close()
                throw error
            }
            try await system.store.close()
        }
    }
}
