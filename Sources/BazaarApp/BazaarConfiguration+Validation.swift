import Configuration
import BazaarCore
import KafkaClient
import Logging
import Foundation
import SystemPackage

extension BazaarConfiguration {
    func validate() throws {
        guard (0...65535).contains(httpPort) else { throw ConfigurationError("http.port must be 0-65535 (got \(httpPort))") }
        guard httpIdleTimeoutSeconds > 0, httpIdleTimeoutSeconds <= 3600, httpReadTimeoutSeconds > 0, httpReadTimeoutSeconds <= 3600 else {
            throw ConfigurationError("http.idle_timeout_seconds and http.read_timeout_seconds must be > 0 and at most 3600")
        }
        guard kafkaCommandReplayWindowHours >= 1, kafkaCommandReplayWindowHours <= 24 * 366 else {
            throw ConfigurationError("kafka.command_replay_window_hours must be between 1 and 8784 (a year)")
        }
        let kafkaSecurity = try kafkaSecurity()
        if kafkaBrokers == nil, kafkaSecurity != .plaintext {
            throw ConfigurationError("kafka.security_protocol \(kafkaSecurity.securityProtocol.rawValue) is set but kafka.brokers is not: set both, or neither")
        }
        guard databaseStatementTimeoutMillis >= 100, databaseStatementTimeoutMillis <= 3_600_000 else {
            throw ConfigurationError("database.statement_timeout_ms must be between 100 and 3600000")
        }
        guard shutdownTimeoutSeconds >= 1, shutdownTimeoutSeconds <= 600 else {
            throw ConfigurationError("shutdown.timeout_seconds must be between 1 and 600")
        }
        guard httpAddressRateLimitRate >= 0, httpAddressRateLimitRate.isFinite, httpAddressRateLimitBurst >= 1 else {
            throw ConfigurationError("http.address_rate_limit_rate must be >= 0 (0: off) and http.address_rate_limit_burst >= 1")
        }
        guard rateLimitRate > 0, rateLimitBurst >= 1 else { throw ConfigurationError("rate_limit.rate must be > 0 and rate_limit.burst >= 1") }
        guard webhookRetryBaseSeconds > 0, webhookRetryBaseSeconds <= 3600 else {
            throw ConfigurationError("webhooks.retry_base_seconds must be > 0 and at most 3600")
        }
        guard webhookTimeoutSeconds > 0, webhookTimeoutSeconds <= 300 else {
            throw ConfigurationError("webhooks.timeout_seconds must be > 0 and at most 300")
        }
        _ = try webhookPolicy()
        guard (1...100_000).contains(liveMaxStreams) else { throw ConfigurationError("live.max_streams must be from 1 to 100000") }
        guard (1...100_000).contains(liveMaxStreamsPerKey) else {
            throw ConfigurationError("live.max_streams_per_key must be from 1 to 100000")
        }
        if let securitySecretKey, securitySecretKey.utf8.count < 16 { throw ConfigurationError("security.secret_key must be at least 16 characters") }
        guard intelligenceRecomputeSeconds >= 0 else { throw ConfigurationError("intelligence.recompute_seconds must be >= 0") }
        guard intelligencePassIntervalSeconds >= 0.01 else { throw ConfigurationError("intelligence.pass_interval_seconds must be at least 0.01") }
        if let fill = intelligenceDefaultFillRate, !(fill >= 0.5 && fill <= 0.999) {
            throw ConfigurationError("intelligence.default_fill_rate must be a number from 0.5 to 0.999 (got \(fill))")
        }
        guard ["text", "json"].contains(logFormat) else { throw ConfigurationError("log.format must be text or json (got \(logFormat))") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ConfigurationError("log.level must be trace, debug, info, notice, warning, error or critical (got \(logLevel))")
        }
        guard cacheCapacity == 0 || cacheCapacity >= 16 else { throw ConfigurationError("cache.capacity must be 0 (no cache) or at least 16") }
        if let cacheWarmLimit, cacheWarmLimit < 0 { throw ConfigurationError("cache.warm_limit must be 0 (no warming) or more (got \(cacheWarmLimit))") }
        guard !redisKeyPrefix.isEmpty, redisKeyPrefix.utf8.count <= 64, !redisKeyPrefix.contains(where: { $0.isWhitespace }) else {
            throw ConfigurationError("redis.key_prefix must be 1-64 characters without spaces")
        }
        guard cacheNearMaxAgeMillis >= 0 else { throw ConfigurationError("cache.near_max_age_ms must be >= 0") }
        let location = try DatabaseLocation(databaseURL)
        if !replicaURLs.isEmpty {
            guard case .mysql = location else { throw ConfigurationError("database.replica_urls needs a mysql:// database.url") }
            for url in replicaURLs where !url.hasPrefix("mysql://") {
                throw ConfigurationError("database.replica_urls must be mysql:// URLs (got `\(url.prefix(40))`)")
            }
        }
        guard replicaMaxLagSeconds >= 0 else { throw ConfigurationError("database.replica_max_lag_seconds must be >= 0") }
        guard (0...60_000).contains(replicaWaitMillis) else { throw ConfigurationError("database.replica_wait_ms must be 0-60000") }
        try validatePoolsAndBatching()
    }

    /// Connections, and how writes and events are batched (issue 15).
    private func validatePoolsAndBatching() throws {
        guard (1...256).contains(databasePoolSize) else { throw ConfigurationError("database.pool_size must be 1-256") }
        guard (1...4).contains(databaseConcurrentFlushes) else {
            throw ConfigurationError("database.concurrent_flushes must be 1-4 (got \(databaseConcurrentFlushes))")
        }
        // The relay waits for each batch's delivery: at most about 1,000 events per linger (10,000/s at 100 ms).
        guard (0...100).contains(kafkaLingerMillis) else {
            throw ConfigurationError("kafka.linger_ms must be between 0 and 100 (got \(kafkaLingerMillis)): the outbox relay publishes about 1,000 events per linger at most")
        }
    }
}
