import BazaarCore
import Synchronization

/// A dependency check for `/health/ready`. A failing required check makes the node unready (503);
/// a failing optional one (an accelerator such as a cache) only marks it degraded.
public struct HealthCheck: Sendable {
    public var name: String
    public var required: Bool
    /// nil when healthy, else what is wrong.
    public var probe: @Sendable () async -> String?

    public init(name: String, required: Bool, probe: @escaping @Sendable () async -> String?) {
        self.name = name
        self.required = required
        self.probe = probe
    }
}

/// `/health/ready` answered from memory: the checks run at most once per `maxAge` whatever the request rate,
/// one run at a time (callers arriving while a run is under way wait for that run rather than starting
/// their own), and each probe is bounded by `probeTimeout`. A flood of readiness requests therefore costs the
/// dependencies nothing beyond one probe a second.
public final class CachedHealth: Sendable {
    public struct Result: Sendable {
        public var name: String
        public var required: Bool
        /// nil when up, else what is wrong (for admins only: it may name hosts and users).
        public var failure: String?
    }

    let checks: [HealthCheck]
    let maxAge: Duration
    let probeTimeout: Duration
    private let state = Mutex<(results: [Result], at: ContinuousClock.Instant)?>(nil)
    private let running = Mutex<Task<[Result], Never>?>(nil)

    public init(checks: [HealthCheck], maxAge: Duration = .seconds(1), probeTimeout: Duration = .seconds(2)) {
        self.checks = checks
        self.maxAge = maxAge
        self.probeTimeout = probeTimeout
    }

    /// The latest results, at most `maxAge` old.
    public func results() async -> [Result] {
        if let cached = state.withLock({ $0 }), ContinuousClock.now - cached.at < maxAge { return cached.results }
        let task = running.withLock { running -> Task<[Result], Never> in
            if let running { return running }
            let task = Task { [self] in
                let results = await probeAll()
                state.withLock { $0 = (results, .now) }
                self.running.withLock { $0 = nil }
                return results
            }
            running = task
            return task
        }
        return await task.value
    }

    private func probeAll() async -> [Result] {
        await withTaskGroup(of: (Int, String?).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask { (index, await Self.bounded(check.probe, timeout: self.probeTimeout)) }
            }
            var results = checks.map { Result(name: $0.name, required: $0.required, failure: nil) }
            for await (index, failure) in group { results[index].failure = failure }
            return results
        }
    }

    /// The probe's answer, or "no answer within ..." when it takes longer (the probe is left to finish alone).
    static func bounded(_ probe: @escaping @Sendable () async -> String?, timeout: Duration) async -> String? {
        await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let pending = Locked<CheckedContinuation<String?, Never>?>(continuation)
            let once: @Sendable (String?) -> Void = { value in pending.withLock { c in c?.resume(returning: value); c = nil } }
            Task { once(await probe()) }
            Task {
                try? await Task.sleep(for: timeout)
                once("no answer within \(timeout)")
            }
        }
    }
}
