import Synchronization

/// Stops calling a dependency that keeps failing, so that a dead Redis costs requests nothing.
///
/// Closed: calls go through; `failureThreshold` failures in a row open it. Open: calls are refused at once
/// for `openMillis`; then one call at a time is let through (half-open) and its success closes the breaker.
public final class CircuitBreaker: Sendable {
    public enum State: Sendable, Equatable { case closed, open, halfOpen }

    private struct Status {
        var state = State.closed
        var failures = 0
        var openedAt: Int64 = 0
        var probing = false
    }

    private let status = Mutex(Status())
    private let failureThreshold: Int
    private let openMillis: Int64
    private let clock: WallClock
    /// Called (outside the lock) when the breaker closes again after being open.
    private let onRecovery: @Sendable () async -> Void

    public init(failureThreshold: Int = 3, openMillis: Int64 = 1000, clock: WallClock = .system,
                onRecovery: @escaping @Sendable () async -> Void = {}) {
        self.failureThreshold = failureThreshold
        self.openMillis = openMillis
        self.clock = clock
        self.onRecovery = onRecovery
    }

    public var state: State { status.withLock { $0.state } }

    /// Whether a call may be made now (in half-open state, only the one probe).
    public func allow() -> Bool {
        let now = clock.nowMillis()
        return status.withLock { status in
            switch status.state {
            case .closed: return true
            case .open:
                guard now - status.openedAt >= openMillis else { return false }
                status.state = .halfOpen
                status.probing = true
                return true
            case .halfOpen:
                if status.probing { return false }
                status.probing = true
                return true
            }
        }
    }

    /// Returns true when this success closed the breaker (after `onRecovery` has run).
    @discardableResult
    public func recordSuccess() async -> Bool {
        let recovered = status.withLock { status in
            status.failures = 0
            status.probing = false
            guard status.state != .closed else { return false }
            status.state = .closed
            return true
        }
        if recovered { await onRecovery() }
        return recovered
    }

    public func recordFailure() {
        let now = clock.nowMillis()
        status.withLock { status in
            status.failures += 1
            status.probing = false
            if status.state == .halfOpen || status.failures >= failureThreshold {
                status.state = .open
                status.openedAt = now
            }
        }
    }
}
