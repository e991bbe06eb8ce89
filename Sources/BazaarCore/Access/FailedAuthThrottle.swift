import BazaarDomain

/// Limits failed authentications per client address: each unknown, revoked or malformed key takes a token from
/// the address's bucket (`burst` failures, refilled at `ratePerSecond`). While the bucket is empty the address is
/// throttled: its requests are answered 429 with `Retry-After` unless they carry a key this node has already seen
/// authenticate (so a client that mistyped a key, or shares a NAT with a scanner, keeps working with a good one).
///
/// Guessing keys therefore costs the guesser time, and costs the service one hash and no database query per
/// guess once throttled. Kept per node (a deployment of N nodes allows N x `burst` failures at most per address).
/// The buckets are a `TokenBucketTable` of `capacity` addresses, so an attacker with many addresses cannot grow it
/// without bound. Only a failure counts as a use of an address's entry: asking whether it is throttled does not.
public final class FailedAuthThrottle: Sendable {
    private let table: TokenBucketTable<String>
    public var burst: Double { table.burst }
    public var ratePerSecond: Double { table.ratePerSecond }

    public init(burst: Double = 20, ratePerSecond: Double = 0.5, capacity: Int = 100_000) {
        table = TokenBucketTable(ratePerSecond: ratePerSecond, burst: burst, capacity: capacity)
    }

    /// Seconds until `address` may fail again, or nil when it is not throttled (an address with no failures kept
    /// is not).
    public func throttled(_ address: String) -> Int? {
        guard let decision = table.peek(address) else { return nil }
        return decision.allowed ? nil : decision.retryAfterSeconds
    }

    /// Counts one failed authentication from `address` (once throttled, the bucket stays empty: nothing more to take).
    public func recordFailure(_ address: String) {
        _ = table.take(address)
    }
}
