import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HTTPTypes
import Hummingbird
import MySQLClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
import HummingbirdTesting
import Logging
import NIOCore
import TestShell

let adminKey = "test-admin-key-0123456789"

/// The storage engines the suites run against, and every environment switch of the app suites, read here only.
///
/// `scripts/test.sh` runs the same suites twice: on SQLite alone, then in the production shape
/// (`BAZAAR_TEST_BACKEND=mariadb BAZAAR_TEST_WITH_REDIS=1`); the storage contract suite runs on every available
/// engine either way. Passes of their own follow: the statement budget, the replica's quiet pass, the outages. The
/// switches:
/// - `BAZAAR_TEST_BACKEND=mariadb`: the HTTP suites' databases are made on the MariaDB test primary (`selected`).
/// - `BAZAAR_TEST_WITH_REDIS=1`: their systems use the Redis cache and rate limiter too (`withRedis`).
/// - `BAZAAR_TEST_DISRUPTIVE=1`: suites that stop servers (outages) run; CI runs them alone (`disruptive`).
/// - `BAZAAR_TEST_REPLICA_QUIET=1`: tests that wait for the replica to apply a write run; CI runs them alone
///   (`replicaQuiet`).
/// - `BAZAAR_TEST_MYSQL_URL`, `BAZAAR_TEST_MYSQL_REPLICA_URL`, `BAZAAR_TEST_REDIS_URL`, `BAZAAR_TEST_KAFKA_BROKERS`:
///   the loopback test servers (`source /tmp/testenv.sh` or `scripts/services/*.sh env`); a suite that needs one
///   is skipped without it.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, mariadb

    private static let environment = ProcessInfo.processInfo.environment
    static var primaryURL: String? { environment["BAZAAR_TEST_MYSQL_URL"] }
    static var replicaURL: String? { environment["BAZAAR_TEST_MYSQL_REPLICA_URL"] }
    /// With a connect timeout of 10 s, not 500 ms: a test's first connection timed out at the start of a CI pass,
    /// eight suites at once on two cores. (The timeouts themselves are tested with their own settings.)
    static var redisURL: String? {
        environment["BAZAAR_TEST_REDIS_URL"].map { $0 + ($0.contains("?") ? "&" : "?") + "connect_timeout_ms=10000" }
    }
    static var kafkaBrokers: String? { environment["BAZAAR_TEST_KAFKA_BROKERS"] }
    /// The engine of the HTTP suites in this run.
    static var selected: Backend { environment["BAZAAR_TEST_BACKEND"] == "mariadb" ? .mariadb : .sqlite }
    /// Whether the HTTP suites' systems use Redis (and a Redis server is there to use).
    static var withRedis: Bool { environment["BAZAAR_TEST_WITH_REDIS"] == "1" && redisURL != nil }
    /// Whether tests that stop and start servers run (never beside other suites: they take shared servers away).
    static var disruptive: Bool { environment["BAZAAR_TEST_DISRUPTIVE"] == "1" }
    /// Whether tests that need the test replica to catch up run (scripts/test.sh sets it in a pass of their own): in
    /// the MariaDB pass, under the writes of eight tests at once on two cores, the replica trailed by more than the
    /// 90 s they wait (CI, stop 43), while the pass that runs alone sees it current within a second.
    static var replicaQuiet: Bool { environment["BAZAAR_TEST_REPLICA_QUIET"] == "1" && replicaURL != nil }
    static var available: [Backend] { primaryURL == nil ? [.sqlite] : [.sqlite, .mariadb] }

    var testDescription: String { rawValue }
}

/// A fresh database, removed when the test ends: a SQLite file in a temporary folder, or a database of its
/// own on the MariaDB test primary (replicated to the test replica).
struct TestDatabase: ~Copyable {
    let folder: URL
    let backend: Backend
    let mysqlName: String?

    init(_ backend: Backend = .selected) {
        self.backend = backend
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bazaar-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if backend == .mariadb {
            let name = "bazaar_test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
            Self.admin("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            mysqlName = name
        } else {
            mysqlName = nil
        }
    }

    var url: String {
        if let mysqlName { return Backend.primaryURL! + "/" + mysqlName }
        return "sqlite://" + folder.appendingPathComponent("bazaar.sqlite").path
    }

    /// The same database on the replica, when there is one.
    var replicaURL: String? { mysqlName.flatMap { name in Backend.replicaURL.map { $0 + "/" + name } } }

    deinit {
        try? FileManager.default.removeItem(at: folder)
        if let mysqlName { Self.admin("DROP DATABASE IF EXISTS \(mysqlName)") }
    }

    static func admin(_ sql: String) {
        let connection = MySQLConnection(configuration: try! MySQLConfiguration(url: Backend.primaryURL!))
        try! connection.open()
        try! connection.query(sql)
        connection.close()
    }
}

enum Harness {
    static func configuration(_ database: String, rate: Double = 1_000_000, burst: Double = 1_000_000) -> BazaarConfiguration {
        var configuration = BazaarConfiguration()
        configuration.databaseURL = database
        // A MariaDB test database is read through the test replica too (the replica has the same database).
        if database.hasPrefix("mysql://"), let replica = Backend.replicaURL, let name = database.split(separator: "/").last {
            configuration.replicaURLs = [replica + "/" + name]
        }
        // The production shape: with BAZAAR_TEST_WITH_REDIS=1 the suites run with the Redis cache and limiter too.
        if Backend.withRedis, let redis = Backend.redisURL {
            configuration.redisURL = redis
            configuration.redisKeyPrefix = "test:\(UInt(bitPattern: database.hashValue)):"
        }
        configuration.adminKey = adminKey
        configuration.rateLimitRate = rate
        configuration.rateLimitBurst = burst
        // Every test request comes from one address (the router's test client has none): no per-address limit here.
        configuration.httpAddressRateLimitRate = 0
        return configuration
    }

    /// A fresh system on `database`; `configure` changes the test configuration first.
    static func system(_ database: String, rate: Double = 1_000_000, burst: Double = 1_000_000,
                       configure: (inout BazaarConfiguration) -> Void = { _ in }) async throws -> BazaarSystem {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        var configuration = Self.configuration(database, rate: rate, burst: burst)
        configure(&configuration)
        return try await BazaarSystem.start(configuration: configuration, logger: logger)
    }

    /// Runs `body` against the router of a fresh system (`live`: its HTTP server on a loopback port), with stores S1-S3 and
    /// products P1-P3 in the catalog.
    static func withApp(
        _ database: String, rate: Double = 1_000_000, burst: Double = 1_000_000, seed: Bool = true, live: Bool = false,
        configure: @escaping @Sendable (inout BazaarConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (BazaarSystem, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await ConsistencyTokens.scoped {
            try await runApp(database, rate: rate, burst: burst, seed: seed, live: live, configure: configure, body)
        }
    }

    private static func runApp(
        _ database: String, rate: Double, burst: Double, seed: Bool, live: Bool,
        configure: @escaping @Sendable (inout BazaarConfiguration) -> Void,
        _ body: @escaping @Sendable (BazaarSystem, any TestClientProtocol) async throws -> Void
    ) async throws {
        let system = try await system(database, rate: rate, burst: burst, configure: configure)
        try await system.application().test(live ? .live : .router) { client in
            if seed {
                for store in ["S1", "S2", "S3"] {
                    _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"Store \#(store)"}"#)
                }
                for product in ["P1", "P2", "P3"] {
                    _ = try await client.call(.put, "/v1/products/\(product)", body: #"{"name":"Product \#(product)"}"#)
                }
            }
            try await body(system, client)
        }
        try await system.store.close()
    }
}

/// An answer, with its body parsed on demand.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }

    func int(_ key: String) -> Int64? { (json[key] as? NSNumber)?.int64Value }

    func string(_ key: String) -> String? { json[key] as? String }

    var isProblem: Bool { headers[.contentType] == "application/problem+json" }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, key: String? = adminKey, body: String? = nil, headers: HTTPFields = [:],
        sendingConsistencyToken: Bool = true
    ) async throws -> Reply {
        var headers = headers
        if let key { headers[.authorization] = "Bearer \(key)" }
        // Like a careful client of a system with replicas, send back the newest consistency token seen (a read that
        // sends one is answered by storage, not by a cache: tests of the caches send none).
        let addingToken = sendingConsistencyToken && headers[.bazaarConsistency] == nil
        let tokens = ConsistencyTokens.current
        if addingToken, let token = tokens?.newest { headers[.bazaarConsistency] = token }
        var reply = try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body))
        }
        // Tokens are signed with the deployment's key: a test system with a key of its own refuses the newest token
        // seen (another system's), as a client moving to another deployment would drop its token and retry.
        if addingToken, headers[.bazaarConsistency] != nil, reply.status == 400, reply.body.contains("invalid-consistency-token") {
            headers[.bazaarConsistency] = nil
            reply = try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
                Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body))
            }
        }
        if let token = reply.headers[.bazaarConsistency] { tokens?.saw(token) }
        return reply
    }

    /// Creates a key and returns the secret.
    func key(role: String, stores: [String] = [], name: String? = nil) async throws -> String {
        let storesJSON = stores.map { "\"\($0)\"" }.joined(separator: ",")
        let reply = try await call(.post, "/v1/api-keys", body: #"{"name":"\#(name ?? role)","role":"\#(role)","stores":[\#(storesJSON)]}"#)
        guard reply.status == 201, let key = reply.string("key") else { throw TestFailure("could not create key: \(reply.body)") }
        return key
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension HTTPField.Name {
    static let bazaarConsistency = Self("Bazaar-Consistency")!
}

/// The newest MariaDB GTID answered to one test's clients (one primary, one replication domain: a later
/// sequence number covers every earlier write). Each test has its own: `Harness.withApp` binds a fresh one for its
/// body, and a suite whose tests start systems by hand takes the `.ownConsistencyTokens` trait. A token from another
/// test's write is never sent with this test's requests (a shared store made concurrent tests read through each
/// other's writes, spending rate-limit tokens twice).
final class ConsistencyTokens: Sendable {
    /// The store of the running test, if it has one; without one, a client sends and keeps no token.
    @TaskLocal static var current: ConsistencyTokens?

    private let newestToken = Mutex<(sequence: Int64, position: String, token: String)?>(nil)

    init() {}

    /// The newest token as answered (`<gtid>.<mac>`), to send back over HTTP.
    var newest: String? { newestToken.withLock { $0?.token } }

    /// Its position (the GTID without the signature), for reads made on the store directly.
    var newestPosition: String? { newestToken.withLock { $0?.position } }

    func saw(_ token: String) {
        // `0-1-42.3f9c...`: the position before the last dot, its sequence number after the position's last dash.
        guard let dot = token.lastIndex(of: ".") else { return }
        let position = String(token[..<dot])
        guard let sequence = position.split(separator: "-").last.flatMap({ Int64($0) }) else { return }
        newestToken.withLock { newest in
            if newest == nil || newest!.sequence < sequence { newest = (sequence, position, token) }
        }
    }

    /// Runs `body` with a token store of its own (unless one is bound already: a `withApp` inside a test that has
    /// one shares the test's).
    static func scoped<T>(_ body: () async throws -> T) async rethrows -> T {
        if current != nil { return try await body() }
        return try await $current.withValue(ConsistencyTokens()) { try await body() }
    }
}

/// Gives each test (each case of a parameterized one) a consistency-token store of its own, for suites whose tests
/// call `application().test` themselves instead of `Harness.withApp`.
struct OwnConsistencyTokensTrait: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Called for the suite, for each test and for each case: bind at the case, the unit that runs alone.
        guard testCase != nil else { return try await function() }
        try await ConsistencyTokens.$current.withValue(ConsistencyTokens()) { try await function() }
    }
}

extension Trait where Self == OwnConsistencyTokensTrait {
    /// Each test case gets its own consistency-token store (see `ConsistencyTokens`).
    static var ownConsistencyTokens: Self { Self() }
}

/// Reads the store directly as a client that sends back the newest consistency token would: on MariaDB the
/// replica answers only once it has applied the test's newest write (else the primary does).
func fresh<T: Sendable>(_ read: () async throws -> T) async throws -> T {
    try await ConsistencyScope.$current.withValue(ConsistencyScope(requested: ConsistencyTokens.current?.newestPosition)) { try await read() }
}

/// Runs a shell command on a thread of its own and returns its exit status (`Shell.runOffThePool`: the command
/// inherits none of the test process's descriptors).
func shell(_ command: String) async -> Int32 { await Shell.runOffThePool(command) }

/// Polls until `condition` holds, every 50 ms for at most `seconds` (work that happens after the commit: the
/// intelligence consumer, a Kafka round trip); returns whether it did.
func eventually(seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
