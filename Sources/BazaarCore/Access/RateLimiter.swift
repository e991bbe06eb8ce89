public import BazaarDomain
import Foundation

/// Decides whether a caller (an API key id, or a client address) may make one more request.
public protocol RateLimiter: Sendable {
    func take(_ subject: String) async -> TokenBucket.Decision
    /// The decision when this process can make it alone (its own buckets, a token it leased) and it allows the
    /// request, whose token is then taken. Nil otherwise, with nothing taken: `take` decides.
    func takeInMemory(_ subject: String) -> TokenBucket.Decision?
}

extension RateLimiter {
    public func takeInMemory(_ subject: String) -> TokenBucket.Decision? { nil }
}

/// Token buckets held in this process: the embedded default's limiter.
public final class InProcessRateLimiter: RateLimiter {
    public let rate: Double
    public let burst: Double
    private let shards: [Locked<[String: TokenBucket]>]
    private let epoch = ContinuousClock.now

    /// `rate` requests a second, bursts of up to `burst`.
    public init(rate: Double, burst: Double, shardCount: Int = 16) {
        precondition(rate > 0 && burst >= 1)
        self.rate = rate
        self.burst = burst
        shards = (0..<shardCount).map { _ in Locked([:]) }
    }

    /// A refusal takes nothing (`TokenBucket.take`), so `take` may ask again.
    public func takeInMemory(_ subject: String) -> TokenBucket.Decision? {
        let decision = take(subject)
        return decision.allowed ? decision : nil
    }

    public func take(_ subject: String) -> TokenBucket.Decision {
        let elapsed = ContinuousClock.now - epoch
        let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let shard = shards[Int(UInt(bitPattern: subject.hashValue) % UInt(shards.count))]
        return shard.withLock { buckets in
            // Full buckets carry no information; drop them when the table grows, to bound memory.
            if buckets.count > 50_000 {
                buckets = buckets.filter { $0.value.tokens + (now - $0.value.updatedAt) * rate < burst }
            }
            var bucket = buckets[subject] ?? TokenBucket(burst: burst, now: now)
            let decision = bucket.take(rate: rate, burst: burst, now: now)
            buckets[subject] = bucket
            return decision
        }
    }
}
