import BazaarApp
import BazaarCore
import Testing

/// A counter of `BazaarMetrics` made before the process's metrics system was bootstrapped (by a test that applied a
/// movement first, on a store without a node) was bound to the no-op backend for good, and `/metrics` never showed
/// it: `ContractTests` met that under a full suite. Run alone (`--filter`), this test makes the counter first.
@Suite struct MetricsBootstrapTests {
    @Test func aCounterMadeBeforeTheBootstrapIsExportedAfterIt() {
        let reason = "probe-before-bootstrap"
        BazaarMetrics.movementApplied(reason: reason)
        _ = Observability.registry  // bootstraps the process's metrics, unless a node already did
        BazaarMetrics.movementApplied(reason: reason)
        #expect(Observability.render().contains("bazaar_movements_applied_total{reason=\"\(reason)\"}"))
    }
}
