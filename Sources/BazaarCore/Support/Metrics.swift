public import Metrics

/// The service's own metrics (HTTP request counts and latencies come from Hummingbird's MetricsMiddleware).
public enum BazaarMetrics {
    public static let eventsPublished = Counter(label: "bazaar_events_published_total")
    private static let applied = Locked<[String: Counter]>([:])
    private static let rejections = Locked<[String: Counter]>([:])

    /// `bazaar_movements_applied_total{reason=...}`
    public static func movementApplied(reason: String) {
        counter(applied, "bazaar_movements_applied_total", reason).increment()
    }

    /// `bazaar_rejections_total{reason=...}`: refused requests by why (invalid, not_found, insufficient_stock...).
    public static func rejected(reason: String) {
        counter(rejections, "bazaar_rejections_total", reason).increment()
    }

    private static func counter(_ cache: Locked<[String: Counter]>, _ label: String, _ reason: String) -> Counter {
        cache.withLock { counters in
            if let counter = counters[reason] { return counter }
            let counter = Counter(label: label, dimensions: [("reason", reason)])
            counters[reason] = counter
            return counter
        }
    }
}
