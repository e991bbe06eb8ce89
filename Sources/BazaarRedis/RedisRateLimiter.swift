public import BazaarCore
public import BazaarDomain
public import RedisClient

/// Token buckets in Redis, shared by every node: one atomic script per request (refill by the server's clock,
/// take one token). When Redis cannot be reached the node falls back to its own in-process buckets, so limits
/// still hold per node and requests are never refused because Redis is down.
public final class RedisRateLimiter: RateLimiter {
    /// KEYS[1] the bucket; ARGV: rate (tokens/s), burst. Returns {allowed, tokens left as text}.
    static let takeScript = RedisScript("""
        local time = redis.call('TIME')
        local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
        local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
        local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(bucket[1]) or burst
        local at = tonumber(bucket[2]) or now
        tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
        local allowed = 0
        if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
        return {allowed, tostring(tokens)}
        """)

    let redis: RedisClient
    let breaker: CircuitBreaker
    let fallback: InProcessRateLimiter
    let rate: Double
    let burst: Double
    let keyPrefix: String

    public init(redis: RedisClient, keyPrefix: String = "bazaar:", rate: Double, burst: Double, breaker: CircuitBreaker) {
        self.redis = redis
        self.keyPrefix = keyPrefix
        self.rate = rate
        self.burst = burst
        self.breaker = breaker
        self.fallback = InProcessRateLimiter(rate: rate, burst: burst)
    }

    public func take(_ subject: String) async -> TokenBucket.Decision {
        guard breaker.allow() else { return fallback.take(subject) }
        do {
            let reply = try await redis.run(Self.takeScript, keys: [keyPrefix + "ratelimit:" + subject], arguments: [String(rate), String(burst)])
            await breaker.recordSuccess()
            guard let parts = reply.array, parts.count == 2, let allowed = parts[0].int, let tokens = parts[1].string.flatMap(Double.init) else {
                return fallback.take(subject)
            }
            return TokenBucket.decision(allowed: allowed == 1, tokensLeft: tokens, rate: rate, burst: burst)
        } catch {
            RedisCacheMetrics.errors.increment()
            breaker.recordFailure()
            return fallback.take(subject)
        }
    }
}
