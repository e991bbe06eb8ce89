import BazaarDomain
import Synchronization

/// Limits failed authentications per client address: each unknown, revoked or malformed key takes a token from
/// the address's bucket (`burst` failures, refilled at `ratePerSecond`). While the bucket is empty the address is
/// throttled: its requests are answered 429 with `Retry-After` unless they carry a key this node has already seen
/// authenticate (so a client that mistyped a key, or shares a NAT with a scanner, keeps working with a good one).
///
/// Guessing keys therefore costs the guesser time, and costs the service one hash and no database query per
/// guess once throttled. Kept per node (a deployment of N nodes allows N x `burst` failures at most per address).
/// The table is an LRU of `capacity` addresses, so an attacker with many addresses cannot grow it without bound.
public final class FailedAuthThrottle: Sendable {
    public let burst: Double
    public let ratePerSecond: Double
    private let buckets: Mutex<LRUCache<String, TokenBucket>>
    private let epoch = ContinuousClock.now

    public init(burst: Double = 20, ratePerSecond: Double = 0.5, capacity: Int = 100_000) {
        precondition(burst >= 1 && ratePerSecond > 0)
        self.burst = burst
        self.ratePerSecond = ratePerSecond
        buckets = Mutex(LRUCache(capacity: max(1, capacity)))
    }

    private var now: Double {
        let elapsed = ContinuousClock.now - epoch
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// Seconds until `address` may fail again, or nil when it is not throttled.
    public func throttled(_ address: String) -> Int? {
        let now = self.now
        return buckets.withLock { table -> Int? in
            guard var bucket = table.peek(address) else { return nil }
            // Refill without spending: a take on a copy tells whether a token is there.
            let decision = bucket.take(rate: ratePerSecond, burst: burst, now: now)
            return decision.allowed ? nil : decision.retryAfterSeconds
        }
    }

    /// Counts one failed authentication from `address`.
    public func recordFailure(_ address: String) {
        let now = self.now
        buckets.withLock { table in
            var bucket = table.get(address) ?? TokenBucket(burst: burst, now: now)
            _ = bucket.take(rate: ratePerSecond, burst: burst, now: now)
            table.set(address, bucket)
        }
    }
}
