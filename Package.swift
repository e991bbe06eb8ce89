// swift-tools-version: 6.2
import PackageDescription

/// Swift 6 language mode everywhere; complete concurrency checking is its default.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "bazaar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bazaar", targets: ["bazaar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Pure domain: identifiers, the stock rules, roles, events, time. No I/O, no dependencies.
        .target(name: "BazaarDomain", swiftSettings: strict),

        // Demand forecasting: statistical methods, automatic choice, intervals, accuracy. Pure: no I/O.
        .target(name: "BazaarForecasting", swiftSettings: strict),

        // MariaDB Connector/C (Debian libmariadb-dev) and the generic client on it: pool, prepared statements, GTIDs.
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .target(
            name: "MySQLClient",
            dependencies: ["CMariaDB", .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict
        ),

        // A Redis client on SwiftNIO (no Swift Redis package is available here): RESP2/3, TLS, pool, pipelining, scripts, pub/sub.
        .target(
            name: "RedisClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),

        // librdkafka (Debian librdkafka-dev), a C shim for its variadic producer call, and the generic Kafka client.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .target(name: "CKafkaShim", dependencies: ["CRdKafka"], linkerSettings: [.linkedLibrary("rdkafka")]),
        .target(
            name: "KafkaClient",
            dependencies: [
                "CRdKafka", "CKafkaShim",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Application services over storage/cache/event-bus protocols, plus their in-process implementations.
        .target(
            name: "BazaarCore",
            dependencies: [
                "BazaarDomain", "BazaarForecasting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // The embedded default storage: SQLite (WAL) through GRDB, with group commit.
        .target(
            name: "BazaarSQLite",
            dependencies: ["BazaarCore", "BazaarDomain", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),

        // Production storage: MySQL / MariaDB, a primary for writes and replicas for reads, with group commit.
        .target(
            name: "BazaarMySQL",
            dependencies: [
                "BazaarCore", "BazaarDomain", "MySQLClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // Redis in the service: the versioned shared cache with its near cache, shared rate limits, coherence.
        .target(
            name: "BazaarRedis",
            dependencies: [
                "BazaarCore", "BazaarDomain", "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // The movement commands other systems send, by HTTP body or Kafka message, and the strict JSON decoding of
        // every body: one set of rules, imported by both channels.
        .target(name: "BazaarCommands", dependencies: ["BazaarDomain"], swiftSettings: strict),

        // Kafka in the service: the outbox's publisher, command ingestion, the movement consumers (intelligence, cache
        // coherence) and the check of each event's signature.
        .target(
            name: "BazaarKafka",
            dependencies: [
                "BazaarCore", "BazaarDomain", "BazaarCommands", "KafkaClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // HTTP: routes, middleware, problem+json, the OpenAPI document and the dashboard.
        .target(
            name: "BazaarHTTP",
            dependencies: [
                "BazaarCore", "BazaarDomain", "BazaarForecasting", "BazaarCommands",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/dashboard.html")],
            swiftSettings: strict
        ),

        // zlib (Debian zlib1g-dev): the gzip files of the ledger archive (Foundation on Linux has no gzip).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Wiring: configuration, choice of implementations, the service group, demo data.
        .target(
            name: "BazaarApp",
            dependencies: [
                "BazaarCore", "BazaarDomain", "BazaarSQLite", "BazaarMySQL", "BazaarRedis", "BazaarHTTP", "BazaarKafka", "KafkaClient", "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "bazaar",
            dependencies: [
                "BazaarApp", "BazaarDomain", "BazaarForecasting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // What the test targets share: shell commands that inherit none of the test process's descriptors.
        .target(name: "TestShell", path: "Tests/TestShell", swiftSettings: strict),
        // ... and `StockService`'s storage in memory with faults to inject (the core's and the Kafka ingestion's tests).
        .target(name: "StockDoubles", dependencies: ["BazaarCore", "BazaarDomain"], path: "Tests/StockDoubles", swiftSettings: strict),
        .testTarget(name: "BazaarDomainTests", dependencies: ["BazaarDomain"], swiftSettings: strict),
        .testTarget(name: "BazaarCoreTests", dependencies: ["BazaarCore", "BazaarDomain", "StockDoubles", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .testTarget(name: "BazaarCommandsTests", dependencies: ["BazaarCommands", "BazaarDomain"], swiftSettings: strict),
        .testTarget(name: "BazaarKafkaTests", dependencies: ["BazaarKafka", "StockDoubles"], swiftSettings: strict),
        .testTarget(
            name: "KafkaClientTests",
            dependencies: ["KafkaClient", "TestShell", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RedisClientTests", dependencies: ["RedisClient", "TestShell", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: strict
        ),
        .testTarget(name: "MySQLClientTests", dependencies: ["MySQLClient", "TestShell"], swiftSettings: strict),
        .testTarget(name: "BazaarForecastingTests", dependencies: ["BazaarForecasting"], swiftSettings: strict),
        .testTarget(
            name: "BazaarAppTests",
            dependencies: [
                "BazaarApp", "BazaarCore", "BazaarDomain", "BazaarSQLite", "BazaarMySQL", "BazaarRedis", "BazaarHTTP", "BazaarCommands",
                "BazaarKafka", "MySQLClient",
                "RedisClient", "KafkaClient", "TestShell",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: strict
        ),
    ]
)
