import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import KafkaClient
import MySQLClient
import RedisClient
import Synchronization
import Testing

/// What a new user meets first: the demo loader at sizes past the API's batch limit, CLI errors in words,
/// every configuration key in `serve --help`, and `bazaar doctor`.
@Suite("A newcomer's first hour")
struct NewcomerTests {
    // MARK: The demo loader

    /// 150 products a store: the opening counts of one store's first day alone exceed the 100 movements one write
    /// may hold (the loader used to send them as one and stop on that refusal).
    @Test func theDemoLoaderSplitsADayPastTheBatchLimitAndReportsProgress() async throws {
        let db = TestDatabase(.sqlite)
        let system = try await Harness.system(db.url)
        var demo = DemoData()
        demo.stores = 3
        demo.products = 200
        demo.productsPerStore = 150
        demo.days = 2
        let reports = Mutex<[DemoData.Progress]>([])
        let summary = try #require(try await demo.load(into: system, logger: .init(label: "test")) { progress in
            reports.withLock { $0.append(progress) }
        })
        #expect(summary.stores == 3 && summary.products == 200)
        #expect(summary.movements > 3 * 150, "one opening count per store x product, then sales and receipts")
        let last = try #require(reports.withLock { $0.last })
        #expect(last.daysDone == 2 && last.days == 2 && last.movements > 450)
        // Every store carries its 150 products (and maybe one received from a branch's transfer), each level the
        // sum of its ledger.
        for store in ["S1001", "S1002", "S1003"] {
            let rows = try await system.store.levels(storeID: store, afterProductID: nil, limit: 1000)
            #expect((150...170).contains(rows.count))
            for row in rows.prefix(5) {
                let totals = try await system.store.ledgerTotals(storeID: store, productID: row.productID)
                #expect(totals.sum == row.level.quantity && totals.rows == row.level.version)
            }
        }
        // A second load into the same database does nothing.
        #expect(try await demo.load(into: system, logger: .init(label: "test")) == nil)
        try await system.store.close()
    }

    @Test func demoSizesOutsideTheFlagsRangeAreRefusedInWords() throws {
        var demo = DemoData()
        demo.stores = 0
        #expect(throws: DemoSizeError.self) { try demo.validate() }
        demo.stores = 2
        demo.products = 10
        demo.productsPerStore = 11
        let error = try #require(throws: DemoSizeError.self) { try demo.validate() }
        #expect(CommandLineErrors.sentence(for: error) == "--products-per-store must be from 1 to --products (10) (got 11).")
        demo.productsPerStore = 10
        try demo.validate()
    }

    // MARK: CLI errors as sentences

    /// A bare Swift error, to show what must never reach a user.
    enum BareError: Error { case somethingBroke(code: Int) }

    @Test func everyCommandLineErrorIsAPlainSentenceWithItsFix() {
        let configuration = {
            var configuration = BazaarConfiguration()
            configuration.databaseURL = "mysql://bazaar:s3cret@127.0.0.1:1/shop"
            configuration.redisURL = "redis://:pw@127.0.0.1:1"
            configuration.kafkaBrokers = "127.0.0.1:1"
            return configuration
        }()
        let cases: [(any Error, String)] = [
            (DomainError.invalid(field: "movements", message: "must hold at most 100 movements (got 331)"),
             "Invalid request: `movements` must hold at most 100 movements (got 331)."),
            (DomainError.unknownStore("S9"), "Unknown store: store \"S9\" is not in the catalog; create it with PUT /v1/stores/{store_id}."),
            (StorageUnavailable("database unavailable: Can't connect"), "cannot be reached"),
            (MySQLError(code: 1045, message: "Access denied for user 'bazaar'"), "Check the user and password"),
            (MySQLError(code: 1049, message: "Unknown database 'shop'"), "CREATE DATABASE"),
            (MySQLError(code: 2003, message: "Can't connect to server on '127.0.0.1' (111)"), "Check that the server is running"),
            (RedisError.unavailable("Connection errors: SingleConnectionFailure(... Connection refused)"), "connection refused"),
            (KafkaError(code: -195, message: "Local: Broker transport failure"), "Check kafka.brokers"),
            (ConfigurationError("database.url must start with sqlite:// or mysql:// (got `postgres://x`)"), "bazaar serve --help"),
            (BareError.somethingBroke(code: 7), "unexpected internal error"),
        ]
        for (error, expected) in cases {
            let sentence = CommandLineErrors.sentence(for: error, configuration: configuration)
            #expect(sentence.contains(expected), "\(sentence)")
            #expect(sentence.hasSuffix("."), "\(sentence)")
            // No Swift in the words: no enum case with labelled payloads, no type names.
            for swift in ["invalid(field:", "somethingBroke", "BareError", "DomainError", "StorageUnavailable", "MySQLError", "SingleConnectionFailure"] {
                #expect(!sentence.contains(swift), "\(sentence)")
            }
            #expect(!sentence.contains("s3cret") && !sentence.contains(":pw@"), "passwords stay hidden: \(sentence)")
        }
    }

    // MARK: Configuration keys in `serve --help`

    /// Every key `BazaarConfiguration.init(reader:)` reads (from its source) has its line in `settings`, so
    /// `serve --help` cannot miss a key added later.
    @Test func serveHelpListsEveryConfigurationKey() throws {
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/BazaarApp/BazaarConfiguration.swift"), encoding: .utf8)
        let read = Set(source.matches(of: /forKey: "([a-z_.]+)"/).map { String($0.output.1) })
        #expect(read.count >= 20)
        let listed = Set(BazaarConfiguration.settings.map(\.key))
        #expect(read == listed, "read but not listed: \(read.subtracting(listed).sorted()); listed but not read: \(listed.subtracting(read).sorted())")
        let help = BazaarConfiguration.settingsHelp
        for setting in BazaarConfiguration.settings {
            #expect(help.contains(setting.key) && help.contains(setting.environment))
        }
        #expect(help.contains("BAZAAR_DATABASE_REPLICA_MAX_LAG_SECONDS") && help.contains("--database-url"))
    }

    // MARK: bazaar doctor

    @Test func doctorPassesOnTheEmbeddedDefault() async throws {
        let db = TestDatabase(.sqlite)
        var configuration = BazaarConfiguration()
        configuration.databaseURL = db.url
        // Before the first start: the file does not exist, its folder can hold it.
        let before = await Doctor.run(configuration)
        #expect(before.allSatisfy { $0.ok }, "\(before.map(\.line))")
        #expect(before.map(\.name) == ["database", "redis", "kafka"])
        #expect(!FileManager.default.fileExists(atPath: db.folder.appendingPathComponent("bazaar.sqlite").path), "doctor creates nothing")
        // After it: the file is opened and read.
        try await Harness.system(db.url).store.close()
        let after = await Doctor.run(configuration)
        #expect(after.allSatisfy { $0.ok }, "\(after.map(\.line))")
        #expect(after[0].line.hasPrefix("OK   database"))
        var missingFolder = configuration
        missingFolder.databaseURL = "sqlite://" + db.folder.appendingPathComponent("no/such/folder/x.sqlite").path
        let missing = await Doctor.run(missingFolder)
        #expect(missing[0].problem?.contains("does not exist") == true)
    }

    /// Nothing listens on port 1 of loopback: every dependency fails, each with a line saying what to check.
    @Test func doctorNamesEveryUnreachableDependency() async throws {
        var configuration = BazaarConfiguration()
        configuration.databaseURL = "mysql://root:secret@127.0.0.1:1/x"
        configuration.replicaURLs = ["mysql://root@127.0.0.1:1/x"]
        configuration.redisURL = "redis://127.0.0.1:1"
        configuration.kafkaBrokers = "127.0.0.1:1"
        let started = ContinuousClock.now
        // A refused connection answers at once; the bound is for the broker, which never answers port 1. (With 2 s,
        // the Redis check's refusal came too late on a machine busy starting the whole suite: "no answer in time".)
        let checks = await Doctor.run(configuration, timeoutSeconds: 8)
        // Bounded, not fast: a loaded test machine has taken 38 s for the four checks of 8 s at most each.
        #expect(ContinuousClock.now - started < .seconds(120))
        #expect(checks.map(\.name) == ["database primary", "database replica 1", "redis", "kafka"])
        for check in checks {
            #expect(!check.ok, "\(check.line)")
            #expect(check.line.hasPrefix("FAIL "), "\(check.line)")
            #expect(check.line.contains("Check") || check.line.contains("check"), "says what to check: \(check.line)")
            #expect(!check.line.contains("secret"), "\(check.line)")
        }
        #expect(checks[2].problem?.contains("connection refused") == true, "\(checks[2].line)")
    }

    /// The test servers, when scripts/test.sh runs them: every configured dependency answers.
    @Test(.enabled(if: Backend.primaryURL != nil && Backend.redisURL != nil))
    func doctorPassesAgainstTheTestServers() async throws {
        var configuration = BazaarConfiguration()
        configuration.databaseURL = try #require(Backend.primaryURL) + "/mysql"
        configuration.replicaURLs = Backend.replicaURL.map { [$0 + "/mysql"] } ?? []
        configuration.redisURL = Backend.redisURL
        let checks = await Doctor.run(configuration)
        #expect(checks.allSatisfy { $0.ok }, "\(checks.map(\.line))")
        #expect(checks[0].detail.hasPrefix("server "))
    }
}
