public import Configuration
public import BazaarCore
import KafkaClient
import Logging
import Foundation
import SystemPackage

/// Every setting of the service, read in one place: command line, then environment (`BAZAAR_*`),
/// then an optional JSON config file, then defaults. Keys and defaults are those of DESIGN.md.
public struct BazaarConfiguration: Sendable {
    /// `http.host` / `BAZAAR_HTTP_HOST`
    public var httpHost = "127.0.0.1"
    /// `http.port` / `BAZAAR_HTTP_PORT`
    public var httpPort = 8080
    /// `http.idle_timeout_seconds` / `BAZAAR_HTTP_IDLE_TIMEOUT_SECONDS`: a connection with nothing read or written for
    /// this long is closed (idle keep-alive connections, requests that stopped arriving).
    public var httpIdleTimeoutSeconds = 60.0
    /// `http.read_timeout_seconds` / `BAZAAR_HTTP_READ_TIMEOUT_SECONDS`: a request's head and body must have arrived
    /// within this of its first byte, or the connection is closed (slow clients trickling bytes).
    public var httpReadTimeoutSeconds = 30.0
    /// `database.url` / `BAZAAR_DATABASE_URL`: `sqlite:///path/file.sqlite` or `mysql://user:pass@host:port/db`.
    public var databaseURL = "sqlite://./bazaar.sqlite"
    /// `database.replica_urls` / `BAZAAR_DATABASE_REPLICA_URLS`: comma-separated `mysql://` URLs for reads.
    public var replicaURLs: [String] = []
    /// `database.replica_max_lag_seconds` / `BAZAAR_DATABASE_REPLICA_MAX_LAG_SECONDS`: a replica further behind serves no reads.
    public var replicaMaxLagSeconds = 5
    /// `database.replica_wait_ms` / `BAZAAR_DATABASE_REPLICA_WAIT_MS`: how long a read carrying a `Bazaar-Consistency`
    /// token waits for a replica to apply that write before it reads the primary instead.
    public var replicaWaitMillis = 500
    /// `database.pool_size` / `BAZAAR_DATABASE_POOL_SIZE`: connections to the MySQL primary (and to each replica, half).
    public var databasePoolSize = 8
    /// `database.concurrent_flushes` / `BAZAAR_DATABASE_CONCURRENT_FLUSHES`: MySQL group commits in flight at once
    /// (1-4, default 1); see `MySQLStockStore.Options.concurrentFlushes`.
    public var databaseConcurrentFlushes = 1
    /// `database.statement_timeout_ms` / `BAZAAR_DATABASE_STATEMENT_TIMEOUT_MS`: the longest a read of the audit trail
    /// (and, on MySQL replicas, any read) may run before the database stops it; the client gets 503 `query-timeout`
    /// telling it to narrow the query.
    public var databaseStatementTimeoutMillis = 5000
    /// `redis.url` / `BAZAAR_REDIS_URL`: none means the in-process cache and limiter.
    public var redisURL: String?
    /// `redis.key_prefix` / `BAZAAR_REDIS_KEY_PREFIX`: the start of every Redis key and channel of this deployment.
    public var redisKeyPrefix = "bazaar:"
    /// `kafka.brokers` / `BAZAAR_KAFKA_BROKERS`: none means the in-process event bus.
    public var kafkaBrokers: String?
    /// `kafka.consumer_group` / `BAZAAR_KAFKA_CONSUMER_GROUP`: the group whose members share the partitions of
    /// `bazaar.stock-commands` (every node of one deployment uses the same).
    public var kafkaConsumerGroup = "bazaar-ingest"
    /// `kafka.command_replay_window_hours` / `BAZAAR_KAFKA_COMMAND_REPLAY_WINDOW_HOURS`: how far back a command of
    /// `bazaar.stock-commands` may be delivered (again) and still be applied exactly once. Command ids are
    /// remembered at least this long; an older command is refused to `.rejected`, never applied twice. Keep it at or
    /// above the topic's retention (Kafka's default is 7 days).
    public var kafkaCommandReplayWindowHours = 168.0
    /// `kafka.linger_ms` / `BAZAAR_KAFKA_LINGER_MS`: the producer's `linger.ms`; as the relay waits for each batch's
    /// delivery, also how many movements a drain takes (50: 17% less CPU per write than 5, BENCHMARKS.md).
    public var kafkaLingerMillis = 50
    /// `kafka.security_protocol` / `BAZAAR_KAFKA_SECURITY_PROTOCOL`: librdkafka's `security.protocol` for every Kafka
    /// client (producer, consumers, topic creation): `plaintext` (the default), `ssl` (TLS, the brokers' certificate
    /// chain and host name verified), `sasl_ssl` (TLS and a SCRAM login: the production setting) or `sasl_plaintext`.
    public var kafkaSecurityProtocol = "plaintext"
    /// `kafka.ssl_ca_location` / `BAZAAR_KAFKA_SSL_CA_LOCATION`: `ssl.ca.location`, the PEM file of the authority that
    /// signed the brokers' certificates (default: the system's trust store).
    public var kafkaSSLCALocation: String?
    /// `kafka.ssl_certificate_location` and `kafka.ssl_key_location`: `ssl.certificate.location` and
    /// `ssl.key.location`, this node's client certificate and key (PEM), for brokers that require one.
    public var kafkaSSLCertificateLocation: String?
    public var kafkaSSLKeyLocation: String?
    /// `kafka.sasl_mechanism` / `BAZAAR_KAFKA_SASL_MECHANISM`: `sasl.mechanisms`, `SCRAM-SHA-512` (default) or
    /// `SCRAM-SHA-256`; with `sasl_ssl` or `sasl_plaintext` only, like the user and password below.
    public var kafkaSASLMechanism: String?
    /// `kafka.sasl_username` / `BAZAAR_KAFKA_SASL_USERNAME`: `sasl.username`.
    public var kafkaSASLUsername: String?
    /// `kafka.sasl_password` / `BAZAAR_KAFKA_SASL_PASSWORD`: `sasl.password`, a secret (never logged or shown).
    public var kafkaSASLPassword: String?
    /// `shutdown.timeout_seconds` / `BAZAAR_SHUTDOWN_TIMEOUT_SECONDS`: how long a graceful shutdown (SIGTERM) may
    /// take: requests in flight finish, the outbox publishes what it can; what is left is published by the next
    /// start. The process has exited by then (orchestrators commonly kill after 30 s).
    public var shutdownTimeoutSeconds = 10.0
    /// `admin.key` / `BAZAAR_ADMIN_KEY`: an admin API key created at start if absent.
    public var adminKey: String?
    /// `security.secret_key` / `BAZAAR_SECURITY_SECRET_KEY`: the secret shared by every node of the deployment
    /// (at least 16 characters), from which the key that encrypts webhook secrets at rest and the key that signs
    /// `Bazaar-Consistency` tokens are derived. Default: derived from `admin.key` when that is set (then changing
    /// the admin key makes stored webhook secrets unreadable: set this to the old admin key when you rotate it).
    public var securitySecretKey: String?
    /// `http.address_rate_limit_rate` / `BAZAAR_HTTP_ADDRESS_RATE_LIMIT_RATE`: requests a second per client address,
    /// counted before authentication (0 turns the limit off: behind a load balancer every client has its address).
    /// The default only stops a pathological flood: many legitimate clients (a store's tills behind NAT, a
    /// proxy, a benchmark) share one address, and each API key has its own limit (`rate_limit.rate`) anyway.
    public var httpAddressRateLimitRate = 100_000.0
    /// `http.address_rate_limit_burst` / `BAZAAR_HTTP_ADDRESS_RATE_LIMIT_BURST`: bucket size per client address.
    public var httpAddressRateLimitBurst = 200_000.0
    /// `rate_limit.rate` / `BAZAAR_RATE_LIMIT_RATE`: requests a second per API key.
    public var rateLimitRate = 1000.0
    /// `rate_limit.burst` / `BAZAAR_RATE_LIMIT_BURST`: bucket size per API key.
    public var rateLimitBurst = 2000.0
    /// `cache.capacity` / `BAZAAR_CACHE_CAPACITY`: stock levels held in the in-process cache; 0 turns the cache off.
    public var cacheCapacity = 1_000_000
    /// `cache.warm_limit` / `BAZAAR_CACHE_WARM_LIMIT`: stock levels read into the in-process cache in the background
    /// after start (`CacheWarmer`); nil: up to `cache.capacity`; 0 turns warming off. Not with Redis or Kafka, whose
    /// caches answer a level only for `cache.near_max_age_ms`.
    public var cacheWarmLimit: Int?
    /// `cache.near_max_age_ms` / `BAZAAR_CACHE_NEAR_MAX_AGE_MS`: with Redis, how long a level in a node's near cache
    /// answers reads without asking Redis (it is refreshed sooner by the coherence messages of every write).
    public var cacheNearMaxAgeMillis = 5000
    /// `intelligence.recompute_seconds` / `BAZAAR_INTELLIGENCE_RECOMPUTE_SECONDS`: age after which a store x product's
    /// thresholds are recomputed from its demand when next needed.
    public var intelligenceRecomputeSeconds = 3600.0
    /// `intelligence.pass_interval_seconds` / `BAZAAR_INTELLIGENCE_PASS_INTERVAL_SECONDS`: pause between two walks of
    /// the recompute pass over the stores (each walk recomputes only the items that are due).
    public var intelligencePassIntervalSeconds = 60.0
    /// `intelligence.default_fill_rate` / `BAZAAR_INTELLIGENCE_DEFAULT_FILL_RATE`: the chain's fill-rate target (share
    /// of demand served from stock, 0.5-0.999) for a product whose `PUT /v1/products/{id}` sets neither
    /// `service_level` nor `fill_rate`. Unset: such a product gets the cycle service level 0.95.
    public var intelligenceDefaultFillRate: Double?
    /// `webhooks.retry_base_seconds` / `BAZAAR_WEBHOOKS_RETRY_BASE_SECONDS`: first retry delay of a failed webhook
    /// delivery; each further retry doubles it (at most an hour, 10 attempts).
    public var webhookRetryBaseSeconds = 1.0
    /// `webhooks.allowed_hosts` / `BAZAAR_WEBHOOKS_ALLOWED_HOSTS`: comma-separated host names, addresses and CIDR
    /// blocks that webhooks may call although they are internal (loopback, private, link-local...). Empty: only
    /// public addresses. Checked at registration and, after DNS, at every delivery.
    public var webhookAllowedHosts: [String] = []
    /// `webhooks.timeout_seconds` / `BAZAAR_WEBHOOKS_TIMEOUT_SECONDS`: the whole of one delivery attempt (DNS,
    /// connection, TLS, request and answer) must fit in this.
    public var webhookTimeoutSeconds = 10.0
    /// `live.max_streams` / `BAZAAR_LIVE_MAX_STREAMS`: live update streams (`/v1/stream`, the dashboard) one node
    /// keeps open at once; one more is refused with 503 `overloaded`.
    public var liveMaxStreams = 1000
    /// `live.max_streams_per_key` / `BAZAAR_LIVE_MAX_STREAMS_PER_KEY`: of those, the most one API key may hold, so that
    /// one key (a till's, say) cannot take every stream of the node; one more is refused with 503 `overloaded`.
    public var liveMaxStreamsPerKey = 100
    /// `log.level` / `BAZAAR_LOG_LEVEL`: trace, debug, info, notice, warning, error, critical. At debug every
    /// request is logged with its id.
    public var logLevel = "info"
    /// `log.format` / `BAZAAR_LOG_FORMAT`: `text` (key=value metadata) or `json` (one object per line).
    public var logFormat = "text"

    public init() {}

    /// Reads every key from `reader`, keeping the defaults above for absent ones.
    public init(reader: ConfigReader) throws {
        httpHost = reader.string(forKey: "http.host", default: httpHost)
        httpPort = reader.int(forKey: "http.port", default: httpPort)
        httpIdleTimeoutSeconds = reader.double(forKey: "http.idle_timeout_seconds", default: httpIdleTimeoutSeconds)
        httpReadTimeoutSeconds = reader.double(forKey: "http.read_timeout_seconds", default: httpReadTimeoutSeconds)
        databaseURL = reader.string(forKey: "database.url", default: databaseURL)
        replicaURLs = reader.string(forKey: "database.replica_urls").map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        } ?? []
        replicaMaxLagSeconds = reader.int(forKey: "database.replica_max_lag_seconds", default: replicaMaxLagSeconds)
        replicaWaitMillis = reader.int(forKey: "database.replica_wait_ms", default: replicaWaitMillis)
        databasePoolSize = reader.int(forKey: "database.pool_size", default: databasePoolSize)
        databaseConcurrentFlushes = reader.int(forKey: "database.concurrent_flushes", default: databaseConcurrentFlushes)
        databaseStatementTimeoutMillis = reader.int(forKey: "database.statement_timeout_ms", default: databaseStatementTimeoutMillis)
        redisURL = reader.string(forKey: "redis.url").flatMap { $0.isEmpty ? nil : $0 }
        redisKeyPrefix = reader.string(forKey: "redis.key_prefix", default: redisKeyPrefix)
        kafkaCommandReplayWindowHours = reader.double(forKey: "kafka.command_replay_window_hours", default: kafkaCommandReplayWindowHours)
        kafkaLingerMillis = reader.int(forKey: "kafka.linger_ms", default: kafkaLingerMillis)
        shutdownTimeoutSeconds = reader.double(forKey: "shutdown.timeout_seconds", default: shutdownTimeoutSeconds)
        kafkaBrokers = reader.string(forKey: "kafka.brokers").flatMap { $0.isEmpty ? nil : $0 }
        kafkaConsumerGroup = reader.string(forKey: "kafka.consumer_group", default: kafkaConsumerGroup)
        kafkaSecurityProtocol = reader.string(forKey: "kafka.security_protocol", default: kafkaSecurityProtocol)
        kafkaSSLCALocation = reader.string(forKey: "kafka.ssl_ca_location").flatMap { $0.isEmpty ? nil : $0 }
        kafkaSSLCertificateLocation = reader.string(forKey: "kafka.ssl_certificate_location").flatMap { $0.isEmpty ? nil : $0 }
        kafkaSSLKeyLocation = reader.string(forKey: "kafka.ssl_key_location").flatMap { $0.isEmpty ? nil : $0 }
        kafkaSASLMechanism = reader.string(forKey: "kafka.sasl_mechanism").flatMap { $0.isEmpty ? nil : $0 }
        kafkaSASLUsername = reader.string(forKey: "kafka.sasl_username").flatMap { $0.isEmpty ? nil : $0 }
        kafkaSASLPassword = reader.string(forKey: "kafka.sasl_password", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        adminKey = reader.string(forKey: "admin.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        securitySecretKey = reader.string(forKey: "security.secret_key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        rateLimitRate = reader.double(forKey: "rate_limit.rate", default: rateLimitRate)
        httpAddressRateLimitRate = reader.double(forKey: "http.address_rate_limit_rate", default: httpAddressRateLimitRate)
        httpAddressRateLimitBurst = reader.double(forKey: "http.address_rate_limit_burst", default: httpAddressRateLimitBurst)
        rateLimitBurst = reader.double(forKey: "rate_limit.burst", default: rateLimitBurst)
        cacheCapacity = reader.int(forKey: "cache.capacity", default: cacheCapacity)
        cacheWarmLimit = reader.int(forKey: "cache.warm_limit")
        cacheNearMaxAgeMillis = reader.int(forKey: "cache.near_max_age_ms", default: cacheNearMaxAgeMillis)
        intelligenceRecomputeSeconds = reader.double(forKey: "intelligence.recompute_seconds", default: intelligenceRecomputeSeconds)
        intelligencePassIntervalSeconds = reader.double(forKey: "intelligence.pass_interval_seconds", default: intelligencePassIntervalSeconds)
        intelligenceDefaultFillRate = reader.double(forKey: "intelligence.default_fill_rate")
        webhookRetryBaseSeconds = reader.double(forKey: "webhooks.retry_base_seconds", default: webhookRetryBaseSeconds)
        webhookAllowedHosts = reader.string(forKey: "webhooks.allowed_hosts").map(Self.list) ?? []
        webhookTimeoutSeconds = reader.double(forKey: "webhooks.timeout_seconds", default: webhookTimeoutSeconds)
        liveMaxStreams = reader.int(forKey: "live.max_streams", default: liveMaxStreams)
        liveMaxStreamsPerKey = reader.int(forKey: "live.max_streams_per_key", default: liveMaxStreamsPerKey)
        logLevel = reader.string(forKey: "log.level", default: logLevel)
        logFormat = reader.string(forKey: "log.format", default: logFormat)
        try validate()
    }

    /// Builds the reader in precedence order. `commandLine` holds the options given on the command line,
    /// by key (`http.port`); `configFile` is a JSON file such as `{"http": {"port": 9090}}`.
    public static func load(commandLine: [String: String] = [:], configFile: String? = nil,
                            environment: [String: String]? = nil) async throws -> BazaarConfiguration {
        let environment = environment ?? ProcessInfo.processInfo.environment
        var providers: [any ConfigProvider] = [
            // Command-line values are text like environment values, so they share the environment's parsing.
            EnvironmentVariablesProvider(environmentVariables: commandLine.reduce(into: [:]) { $0[environmentName(forKey: $1.key)] = $1.value })
                .prefixKeys(with: "bazaar"),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "bazaar"),
        ]
        if let path = configFile ?? environment["BAZAAR_CONFIG_FILE"] {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } catch {
                throw ConfigurationError("config file \(path) could not be read: \(error)")
            }
        }
        return try BazaarConfiguration(reader: ConfigReader(providers: providers))
    }

    /// `a, b,,c` -> `["a", "b", "c"]`.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The deployment's key: from `security.secret_key`, else from `admin.key`, else one for this process only
    /// (webhook secrets are then stored in clear, and consistency tokens are valid on this node only).
    public var deploymentKey: DeploymentKey {
        (securitySecretKey ?? adminKey).map(DeploymentKey.init(secret:)) ?? .ephemeral()
    }

    /// The webhook destination policy of `webhooks.allowed_hosts`.
    public func webhookPolicy() throws -> WebhookAddressPolicy {
        do {
            return try WebhookAddressPolicy(allowlist: webhookAllowedHosts)
        } catch {
            guard case .invalid(let field, let message) = error else { throw ConfigurationError("\(error)") }
            throw ConfigurationError("\(field) \(message)")
        }
    }

    /// The Kafka clients' TLS and SASL settings (`kafka.security_protocol` and the rest), validated: an error names
    /// this configuration's key, never the password.
    func kafkaSecurity() throws -> KafkaSecurity {
        do {
            return try KafkaSecurity(securityProtocol: kafkaSecurityProtocol, caLocation: kafkaSSLCALocation,
                                     certificateLocation: kafkaSSLCertificateLocation, keyLocation: kafkaSSLKeyLocation,
                                     saslMechanism: kafkaSASLMechanism, saslUsername: kafkaSASLUsername, saslPassword: kafkaSASLPassword)
        } catch {
            // librdkafka's property names, in the message, become the keys an operator sets.
            var message = error.message
            for (property, key) in [("security.protocol", "kafka.security_protocol"), ("ssl.ca.location", "kafka.ssl_ca_location"),
                                    ("ssl.certificate.location", "kafka.ssl_certificate_location"), ("ssl.key.location", "kafka.ssl_key_location"),
                                    ("sasl.mechanisms", "kafka.sasl_mechanism"), ("sasl.username", "kafka.sasl_username"),
                                    ("sasl.password", "kafka.sasl_password")] {
                message = message.replacingOccurrences(of: property, with: key)
            }
            throw ConfigurationError(message)
        }
    }

    /// `http.port` -> `BAZAAR_HTTP_PORT`.
    public static func environmentName(forKey key: String) -> String {
        "BAZAAR_" + key.replacingOccurrences(of: ".", with: "_").uppercased()
    }

}

/// Where the data lives, parsed from `database.url`.
public enum DatabaseLocation: Equatable, Sendable {
    case sqlite(path: String)
    case mysql(url: String)

    public init(_ url: String) throws {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw ConfigurationError("database.url `\(url)` names no file; use sqlite://./bazaar.sqlite or sqlite:///abs/path") }
            self = .sqlite(path: path)
        } else if url.hasPrefix("mysql://") {
            self = .mysql(url: url)
        } else {
            throw ConfigurationError("database.url must start with sqlite:// or mysql:// (got `\(url.prefix(40))`)")
        }
    }
}

/// A configuration that cannot be used, said so that an operator can fix it. The text is redacted on the way
/// in (`redacted`): it ends up in logs and terminals, and URLs in configuration carry passwords.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = Self.redacted(description) }

    /// `text` with the password of every `scheme://user:password@` URL (also when the `@` was cut off by a
    /// truncation) and every `password=`/`secret=` option replaced by `***`.
    public static func redacted(_ text: String) -> String {
        var text = text
        let patterns = [
            // scheme://user:password@ (a password may hold anything but @ and spaces; percent-encoded or not)
            (#"([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):[^@\s]*@"#, "$1:***@"),
            // scheme://user:password with no @ left (truncated text): everything after the colon until a space
            (#"([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?![0-9]+(?:[/?\s`'"]|$))[^@\s`'"]*(?=[\s`'"]|$)"#, "$1:***"),
            (#"(?i)((?:password|passwd|pass|secret|token|key)=)[^&\s`'"]*"#, "$1***"),
        ]
        for (pattern, template) in patterns {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        return text
    }
}
