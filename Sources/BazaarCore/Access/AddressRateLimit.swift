import BazaarDomain
import Synchronization

/// A token bucket per client address, spent by every request before anything else is done for it (no key hash,
/// no database): a flood from one address, with or without keys, is answered 429 at the cost of a table lookup.
///
/// Unlike the per-key limit this one needs no authentication, so it is the first line against unauthenticated
/// traffic; its default (`http.address_rate_limit_rate` 2000/s, bursts of `http.address_rate_limit_burst` 4000)
/// is generous enough for a store's NAT full of tills. Kept per node, in an LRU of `capacity` addresses (an
/// attacker with many addresses cannot grow it without bound; an evicted address starts with a full bucket).
public final class AddressRateLimit: Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    private let buckets: Mutex<LRUCache<String, TokenBucket>>
    private let epoch = ContinuousClock.now

    public init(ratePerSecond: Double, burst: Double, capacity: Int = 100_000) {
        precondition(ratePerSecond > 0 && burst >= 1)
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        buckets = Mutex(LRUCache(capacity: max(1, capacity)))
    }

    private var now: Double {
        let elapsed = ContinuousClock.now - epoch
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// Takes one request's token for `address`: nil when allowed, else the seconds to wait.
    public func take(_ address: String) -> Int? {
        let now = self.now
        return buckets.withLock { table -> Int? in
            var bucket = table.get(address) ?? TokenBucket(burst: burst, now: now)
            let decision = bucket.take(rate: ratePerSecond, burst: burst, now: now)
            table.set(address, bucket)
            return decision.allowed ? nil : max(1, decision.retryAfterSeconds)
        }
    }
}
