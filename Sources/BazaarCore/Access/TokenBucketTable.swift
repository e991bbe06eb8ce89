public import BazaarDomain
import Synchronization

/// Token buckets by key (a client address, say), `ratePerSecond` tokens a second up to `burst` each, kept in a
/// bounded LRU behind one lock: the bookkeeping `AddressRateLimit` and `FailedAuthThrottle` share. What a bucket
/// means is theirs: the address limit spends a token per request, the failed-authentication throttle spends one per
/// failure and only peeks to decide whether to refuse.
///
/// A key not in the table has a full bucket: `take` starts it full, `peek` answers nil. So forgetting a bucket
/// that has refilled loses nothing, and the table only needs to remember keys that spent recently.
///
/// **Bound and eviction.** At most `capacity` keys are kept: an attacker with many addresses cannot grow the table.
/// When a new key arrives at capacity, the least recently *taken* key is forgotten (a `peek` does not count as a
/// use). So a key that keeps spending is never the one evicted, whatever the churn of other keys: an address that
/// floods stays limited by the rule. A key is evicted only after `capacity` other keys have taken since its own last
/// take; if its bucket has refilled by then (for the address limit's defaults, two seconds), nothing is lost. If
/// not, it comes back with a full bucket early: an attacker buys that extra burst with `capacity` fresh keys, each
/// of which had a full bucket of its own anyway (kept as it always was; `TokenBucketTableTests` holds both sides).
///
/// Time is seconds on a monotonic clock (`now`, injectable for tests): a wall-clock step neither refills nor
/// drains a bucket.
public final class TokenBucketTable<Key: Hashable & Sendable>: Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    public let capacity: Int
    private let buckets: Mutex<LRUCache<Key, TokenBucket>>
    private let now: @Sendable () -> Double

    /// `now` answers seconds since any fixed point; the default counts from this table's creation.
    public init(ratePerSecond: Double, burst: Double, capacity: Int = 100_000, now: (@Sendable () -> Double)? = nil) {
        precondition(ratePerSecond > 0 && burst >= 1)
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.capacity = max(1, capacity)
        buckets = Mutex(LRUCache(capacity: self.capacity))
        self.now = now ?? Self.monotonicSeconds()
    }

    /// Seconds since the moment this is called, on `ContinuousClock`.
    public static func monotonicSeconds() -> @Sendable () -> Double {
        let epoch = ContinuousClock.now
        return {
            let elapsed = ContinuousClock.now - epoch
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
    }

    /// Takes one token from `key`'s bucket (a new key starts full) and makes `key` the most recently used.
    /// The decision says whether there was a token; a refused take spends nothing.
    public func take(_ key: Key) -> TokenBucket.Decision {
        let now = self.now()
        return buckets.withLock { table in
            var bucket = table.get(key) ?? TokenBucket(burst: burst, now: now)
            let decision = bucket.take(rate: ratePerSecond, burst: burst, now: now)
            table.set(key, bucket)
            return decision
        }
    }

    /// What `take` would answer now, without spending a token or touching the key's recency; nil for a key the
    /// table does not hold (its bucket is full).
    public func peek(_ key: Key) -> TokenBucket.Decision? {
        let now = self.now()
        return buckets.withLock { table in
            // The refill and the take happen on a copy: the stored bucket is left as it was.
            guard var bucket = table.peek(key) else { return nil }
            return bucket.take(rate: ratePerSecond, burst: burst, now: now)
        }
    }

    /// How many keys the table holds (at most `capacity`).
    public var count: Int { buckets.withLock { $0.count } }
}
