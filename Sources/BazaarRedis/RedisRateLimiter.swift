public import BazaarCore
public import BazaarDomain
public import RedisClient
import Metrics
import Synchronization

/// Token buckets in Redis, shared by every node.
///
/// A round trip per request would cost more than the request itself, so a node leases tokens: one atomic script
/// refills the shared bucket by the server's clock and hands out up to `leaseSize` tokens, which the node then spends
/// locally (a lease not spent within `leaseMillis` stops answering, so a node never sits on tokens for long, and what
/// is left of it goes back to the bucket with the node's next lease: dropped, a lease spent on one request a period
/// took a whole lease from the bucket, and two nodes' quiet clients drained it far below the limit). The limit is
/// therefore exact across nodes to within one lease per node; with small bursts the lease is one token and every
/// request asks Redis. When Redis cannot be reached the node falls back to its own in-process buckets, so limits
/// still hold per node and no request is refused because Redis is down.
public final class RedisRateLimiter: RateLimiter {
    /// KEYS[1] the bucket; ARGV: rate (tokens/s), burst, tokens wanted, tokens given back (an expired lease's unspent
    /// ones). Returns {tokens granted, tokens left (text)}.
    ///
    /// The time is kept as Redis's own two integers (seconds, microseconds): one float of seconds since 1970 has only
    /// 14 significant digits in Lua's `tostring`, so it was rounded to 100 µs, up as often as down; a script run
    /// within that window then saw no time pass and no refill, and refused clients far under their limit.
    static let leaseScript = RedisScript("""
        local time = redis.call('TIME')
        local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        local bucket = redis.call('HMGET', KEYS[1], 'tokens', 's', 'us')
        local tokens = tonumber(bucket[1]) or burst
        local elapsed = 0
        if bucket[2] and bucket[3] then
          elapsed = (tonumber(time[1]) - tonumber(bucket[2])) + (tonumber(time[2]) - tonumber(bucket[3])) / 1000000
        end
        tokens = math.min(burst, tokens + math.max(0, elapsed) * rate + (tonumber(ARGV[4]) or 0))
        local granted = math.min(wanted, math.floor(tokens))
        tokens = tokens - granted
        redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 's', time[1], 'us', time[2])
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
        return {granted, string.format('%.6f', tokens)}
        """)

    private struct Lease {
        var tokens: Int
        var sharedLeft: Double
        var expiresAtMillis: Int64
    }

    let redis: RedisClient
    let breaker: CircuitBreaker
    let fallback: InProcessRateLimiter
    let rate: Double
    let burst: Double
    let keyPrefix: String
    let leaseSize: Int
    let leaseMillis: Int64
    let clock: WallClock
    private let leases = Mutex<[String: Lease]>([:])

    public init(redis: RedisClient, keyPrefix: String = "bazaar:", rate: Double, burst: Double, breaker: CircuitBreaker,
                leaseMillis: Int64 = 250, clock: WallClock = .system) {
        self.redis = redis
        self.keyPrefix = keyPrefix
        self.rate = rate
        self.burst = burst
        self.breaker = breaker
        self.fallback = InProcessRateLimiter(rate: rate, burst: burst)
        // A tenth of the burst, and no more than a lease period's worth of the rate.
        self.leaseSize = max(1, min(Int(burst / 10), Int(rate * Double(leaseMillis) / 1000)))
        self.leaseMillis = leaseMillis
        self.clock = clock
    }

    /// A token of this node's lease, while it has one.
    public func takeInMemory(_ subject: String) -> TokenBucket.Decision? {
        let now = clock.nowMillis()
        return leases.withLock { leases in
            guard var lease = leases[subject], lease.tokens > 0, lease.expiresAtMillis > now else { return nil }
            lease.tokens -= 1
            leases[subject] = lease
            return TokenBucket.decision(allowed: true, tokensLeft: lease.sharedLeft + Double(lease.tokens), rate: rate, burst: burst)
        }
    }

    public func take(_ subject: String) async -> TokenBucket.Decision {
        if let local = takeInMemory(subject) { return local }
        let now = clock.nowMillis()
        guard breaker.allow() else { return fallback.take(subject) }
        // An expired lease's unspent tokens, taken out here so that concurrent requests give them back once (lost if
        // the script fails: the bucket then holds fewer, never more).
        let unspent = leases.withLock { leases -> Int in
            guard let lease = leases[subject], lease.expiresAtMillis <= now, lease.tokens > 0 else { return 0 }
            leases[subject] = nil
            return lease.tokens
        }
        do {
            let reply = try await redis.run(Self.leaseScript, keys: [keyPrefix + "ratelimit:" + subject],
                                            arguments: [String(rate), String(burst), String(leaseSize), String(unspent)])
            RedisRoundTrips.rateLimit.increment()
            await breaker.recordSuccess()
            guard let parts = reply.array, parts.count == 2, let granted = parts[0].int, let left = parts[1].string.flatMap(Double.init) else {
                return fallback.take(subject)
            }
            // Concurrent requests may have leased meanwhile: tokens granted add to the node's lease, and a request
            // granted none may still spend one that a neighbour leased.
            let (allowed, localTokens): (Bool, Int) = leases.withLock { leases in
                if leases.count > 100_000 { leases = leases.filter { $0.value.expiresAtMillis > now } }
                var lease = leases[subject].flatMap { $0.expiresAtMillis > now ? $0 : nil }
                    ?? Lease(tokens: 0, sharedLeft: left, expiresAtMillis: now + leaseMillis)
                lease.tokens += Int(granted)
                lease.sharedLeft = left
                if granted > 0 { lease.expiresAtMillis = now + leaseMillis }
                let allowed = lease.tokens > 0
                if allowed { lease.tokens -= 1 }
                leases[subject] = lease
                return (allowed, lease.tokens)
            }
            return TokenBucket.decision(allowed: allowed, tokensLeft: left + Double(localTokens), rate: rate, burst: burst)
        } catch {
            RedisCacheMetrics.errors.increment()
            breaker.recordFailure()
            return fallback.take(subject)
        }
    }
}

/// Redis round trips made by the service, by purpose: `bazaar_redis_round_trips_total{op}`.
enum RedisRoundTrips {
    static let cacheGet = Counter(label: "bazaar_redis_round_trips_total", dimensions: [("op", "cache_get")])
    static let cacheOffer = Counter(label: "bazaar_redis_round_trips_total", dimensions: [("op", "cache_offer")])
    static let rateLimit = Counter(label: "bazaar_redis_round_trips_total", dimensions: [("op", "rate_limit")])
}
