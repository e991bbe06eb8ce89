import BazaarDomain

/// A token bucket per client address, spent by every request before anything else is done for it (no key hash,
/// no database): a flood from one address, with or without keys, is answered 429 at the cost of a table lookup.
///
/// Unlike the per-key limit this one needs no authentication, so it is the first line against unauthenticated
/// traffic; its default (`http.address_rate_limit_rate` 100,000/s, bursts of `http.address_rate_limit_burst`
/// 200,000) is generous enough for a store's NAT full of tills. Kept per node, in a `TokenBucketTable` of `capacity`
/// addresses (an attacker with many addresses cannot grow it without bound; an address that keeps sending is never
/// the one evicted: see the table for what eviction forgets).
public final class AddressRateLimit: Sendable {
    private let table: TokenBucketTable<String>
    public var ratePerSecond: Double { table.ratePerSecond }
    public var burst: Double { table.burst }

    public init(ratePerSecond: Double, burst: Double, capacity: Int = 100_000) {
        table = TokenBucketTable(ratePerSecond: ratePerSecond, burst: burst, capacity: capacity)
    }

    /// Whether `take` would allow a request from `address` now, spending nothing.
    public func wouldAllow(_ address: String) -> Bool {
        table.peek(address)?.allowed ?? true
    }

    /// Takes one request's token for `address`: nil when allowed, else the seconds to wait.
    public func take(_ address: String) -> Int? {
        let decision = table.take(address)
        return decision.allowed ? nil : max(1, decision.retryAfterSeconds)
    }
}
