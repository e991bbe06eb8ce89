/// The configuration keys as a user meets them, for `bazaar serve --help`. Kept beside, not inside,
/// `BazaarConfiguration`: a test reads the keys `init(reader:)` reads from its source and holds this list to them.
extension BazaarConfiguration {
    /// One configuration key as a user meets it: its name, environment variable, command-line option (if any),
    /// what it means and its default. `bazaar serve --help` prints them all.
    public struct Setting: Sendable {
        public let key: String
        public let option: String?
        public let meaning: String
        public var environment: String { BazaarConfiguration.environmentName(forKey: key) }
    }

    /// Every key `init(reader:)` reads, in the README's order (a test holds the two lists together).
    public static let settings: [Setting] = [
        Setting(key: "http.host", option: "--http-host", meaning: "address to listen on (default 127.0.0.1)"),
        Setting(key: "http.port", option: "--http-port", meaning: "port to listen on (default 8080)"),
        Setting(key: "http.idle_timeout_seconds", option: nil, meaning: "a connection with nothing read or written this long is closed (default 60)"),
        Setting(key: "http.read_timeout_seconds", option: nil,
                meaning: "a request's head and body must arrive within this of its first byte (default 30)"),
        Setting(key: "database.url", option: "--database-url",
                meaning: "sqlite://./file.sqlite, sqlite:///abs/path.sqlite or mysql://user:pass@host:port/db (default sqlite://./bazaar.sqlite)"),
        Setting(key: "database.replica_urls", option: "--database-replica-urls",
                meaning: "comma-separated mysql:// URLs for reads (default none: reads go to the primary)"),
        Setting(key: "database.replica_max_lag_seconds", option: nil, meaning: "a replica further behind serves no reads (default 5)"),
        Setting(key: "database.replica_wait_ms", option: nil,
                meaning: "how long a read with a consistency token waits for a replica before reading the primary (default 500)"),
        Setting(key: "database.pool_size", option: nil, meaning: "connections to the MySQL primary; half, at least 2, to each replica (default 8)"),
        Setting(key: "database.concurrent_flushes", option: nil,
                meaning: "MySQL group commits in flight at once, 1-4; 2 for a primary far away (default 1)"),
        Setting(key: "redis.url", option: "--redis-url", meaning: "redis://[user:password@]host:port[/db], or rediss:// for TLS with ?tls_ca=/path/ca.pem (default none: in-process cache and rate limits)"),
        Setting(key: "redis.key_prefix", option: nil, meaning: "start of every Redis key and channel (default bazaar:)"),
        Setting(key: "cache.near_max_age_ms", option: nil, meaning: "how long a node's near cache answers without asking Redis (default 5000)"),
        Setting(key: "kafka.brokers", option: "--kafka-brokers", meaning: "host:port,host:port (default none: in-process event bus)"),
        Setting(key: "kafka.consumer_group", option: nil, meaning: "the group sharing bazaar.stock-commands (default bazaar-ingest)"),
        Setting(key: "kafka.command_replay_window_hours", option: nil,
                meaning: "a command delivered again within this many hours is applied exactly once; keep it at or above the topic's retention (default 168)"),
        Setting(key: "kafka.linger_ms", option: nil,
                meaning: "how long events gather before a produce request (librdkafka's linger.ms): fewer, larger batches for a little latency (default 50)"),
        Setting(key: "kafka.security_protocol", option: nil,
                meaning: "plaintext, ssl (TLS), sasl_ssl (TLS and SCRAM login: production) or sasl_plaintext, for every Kafka client (default plaintext)"),
        Setting(key: "kafka.ssl_ca_location", option: nil, meaning: "PEM file of the authority that signed the brokers' certificates (default: the system's trust store)"),
        Setting(key: "kafka.ssl_certificate_location", option: nil, meaning: "this node's client certificate (PEM), for brokers that require one; with kafka.ssl_key_location (default none)"),
        Setting(key: "kafka.ssl_key_location", option: nil, meaning: "the key of kafka.ssl_certificate_location (PEM) (default none)"),
        Setting(key: "kafka.sasl_mechanism", option: nil, meaning: "SCRAM-SHA-512 or SCRAM-SHA-256, with sasl_ssl or sasl_plaintext (default SCRAM-SHA-512)"),
        Setting(key: "kafka.sasl_username", option: nil, meaning: "the SCRAM user, required with sasl_ssl and sasl_plaintext (default none)"),
        Setting(key: "kafka.sasl_password", option: nil, meaning: "the SCRAM user's password, a secret never shown (default none)"),
        Setting(key: "database.statement_timeout_ms", option: nil,
                meaning: "the longest a read of the audit trail (on MySQL replicas: any read) may run before it is stopped with 503 query-timeout (default 5000)"),
        Setting(key: "shutdown.timeout_seconds", option: nil, meaning: "the most a graceful shutdown (SIGTERM, SIGINT) may take (default 10)"),
        Setting(key: "security.secret_key", option: nil,
                meaning: "the deployment's shared secret (16+ characters) for webhook secrets at rest and consistency tokens (default: from admin.key)"),
        Setting(key: "admin.key", option: "--admin-key", meaning: "admin API key created at start if absent (default: a new key, printed once)"),
        Setting(key: "http.address_rate_limit_rate", option: nil,
                meaning: "requests a second per client address, before authentication; 0: off (default 100000)"),
        Setting(key: "http.address_rate_limit_burst", option: nil, meaning: "burst size per client address (default 200000)"),
        Setting(key: "rate_limit.rate", option: "--rate-limit-rate", meaning: "requests a second per API key (default 1000)"),
        Setting(key: "rate_limit.burst", option: "--rate-limit-burst", meaning: "burst size per API key (default 2000)"),
        Setting(key: "cache.capacity", option: nil, meaning: "stock levels in the in-process cache; 0 turns it off (default 1000000)"),
        Setting(key: "cache.warm_limit", option: nil,
                meaning: "stock levels read into the in-process cache in the background after start; 0 turns warming off; not with Redis or Kafka (default: cache.capacity)"),
        Setting(key: "intelligence.recompute_seconds", option: nil, meaning: "age after which thresholds are recomputed (default 3600)"),
        Setting(key: "intelligence.pass_interval_seconds", option: nil, meaning: "pause between two walks of the recompute pass over the stores (default 60)"),
        Setting(key: "intelligence.default_fill_rate", option: nil,
                meaning: "fill-rate target (0.5-0.999) of a product PUT without service_level or fill_rate (default none: service level 0.95)"),
        Setting(key: "webhooks.retry_base_seconds", option: nil, meaning: "first retry delay of a failed webhook delivery, doubling (default 1)"),
        Setting(key: "webhooks.allowed_hosts", option: nil,
                meaning: "comma-separated internal hosts, addresses and CIDR blocks webhooks may call (default none: public addresses only)"),
        Setting(key: "webhooks.timeout_seconds", option: nil, meaning: "the whole of one webhook delivery attempt (default 10)"),
        Setting(key: "live.max_streams", option: nil, meaning: "live update streams (/v1/stream) one node keeps open at once (default 1000)"),
        Setting(key: "live.max_streams_per_key", option: nil, meaning: "of those, the most one API key may hold (default 100)"),
        Setting(key: "log.level", option: "--log-level", meaning: "trace, debug, info, notice, warning, error or critical (default info)"),
        Setting(key: "log.format", option: "--log-format", meaning: "text or json (default text)"),
    ]

    /// The settings as `serve --help` shows them: precedence first, then one key per line.
    public static var settingsHelp: String {
        var lines = [
            "Configuration: command line, then environment, then a JSON config file (--config FILE or BAZAAR_CONFIG_FILE, "
                + "nested by the dots of the key: {\"http\": {\"port\": 9090}}), then defaults. Every key (environment, option):",
            "",
        ]
        // One line a key: ArgumentParser rewraps the discussion to the terminal, and would lose an indented layout.
        for setting in settings {
            let names = [setting.key, setting.environment] + (setting.option.map { [$0] } ?? [])
            lines.append("- " + names.joined(separator: ", ") + ": " + setting.meaning)
        }
        return lines.joined(separator: "\n")
    }
}
