/// A token bucket: `rate` tokens a second up to `burst`. Pure: the caller supplies the time.
public struct TokenBucket: Sendable, Equatable {
    public private(set) var tokens: Double
    public private(set) var updatedAt: Double

    public init(burst: Double, now: Double) {
        tokens = burst
        updatedAt = now
    }

    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var limit: Int
        public var remaining: Int
        /// Seconds until the bucket is full again (`RateLimit-Reset`).
        public var resetSeconds: Int
        /// Seconds until one token is available, when refused (`Retry-After`).
        public var retryAfterSeconds: Int
    }

    public mutating func take(rate: Double, burst: Double, now: Double) -> Decision {
        let elapsed = max(0, now - updatedAt)
        tokens = min(burst, tokens + elapsed * rate)
        updatedAt = now
        let allowed = tokens >= 1
        if allowed { tokens -= 1 }
        return Self.decision(allowed: allowed, tokensLeft: tokens, rate: rate, burst: burst)
    }

    /// The answer for a bucket left with `tokensLeft` after a take (shared with buckets kept elsewhere, e.g. Redis).
    public static func decision(allowed: Bool, tokensLeft tokens: Double, rate: Double, burst: Double) -> Decision {
        let missing = burst - tokens
        return Decision(
            allowed: allowed,
            limit: Int(burst),
            remaining: max(0, Int(tokens.rounded(.down))),
            resetSeconds: Int((missing / rate).rounded(.up)),
            retryAfterSeconds: allowed ? 0 : max(1, Int(((1 - tokens) / rate).rounded(.up)))
        )
    }
}
