public import Metrics

/// The service's own metrics (HTTP request counts and latencies come from `RequestMetricsMiddleware`, in
/// Hummingbird's series).
public enum BazaarMetrics {
    /// `bazaar_events_published_total`
    public static var eventsPublished: Counter { counter(published, "bazaar_events_published_total", nil) }
    private static let published = Locked<[String: Counter]>([:])
    private static let applied = Locked<[String: Counter]>([:])
    private static let rejections = Locked<[String: Counter]>([:])

    /// Forgets the counters made so far, so that each is made again through the metrics backend now bootstrapped: one
    /// made before (by a test, or any code that ran first) would stay bound to the no-op backend for the process.
    public static func metricsBootstrapped() {
        for cache in [published, applied, rejections] { cache.withLock { $0.removeAll() } }
    }

    /// `bazaar_movements_applied_total{reason=...}`
    public static func movementApplied(reason: String) {
        counter(applied, "bazaar_movements_applied_total", reason).increment()
    }

    /// `bazaar_rejections_total{reason=...}`: refused requests by why (invalid, not_found, insufficient_stock...).
    public static func rejected(reason: String) {
        counter(rejections, "bazaar_rejections_total", reason).increment()
    }

    private static func counter(_ cache: Locked<[String: Counter]>, _ label: String, _ reason: String?) -> Counter {
        cache.withLock { counters in
            if let counter = counters[reason ?? ""] { return counter }
            let counter = Counter(label: label, dimensions: reason.map { [("reason", $0)] } ?? [])
            counters[reason ?? ""] = counter
            return counter
        }
    }
}
