public import Logging
public import ServiceLifecycle

/// Periodic housekeeping: forgets idempotency records past their retention: HTTP keys after
/// `idempotencyRetentionMillis` (at least 24 hours, DESIGN.md), Kafka command ids (scopes starting with
/// `IdempotencyScope.commandPrefix`) after the longer of that and the command replay window.
public struct MaintenanceService: Service {
    let store: any StorageMaintenance
    let clock: WallClock
    let logger: Logger
    let idempotencyRetentionMillis: Int64
    let commandRetentionMillis: Int64
    let interval: Duration

    public init(store: any StorageMaintenance, clock: WallClock = .system, logger: Logger,
                idempotencyRetentionMillis: Int64 = 48 * 3_600_000, commandReplayWindowMillis: Int64 = 168 * 3_600_000,
                interval: Duration = .seconds(600)) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.idempotencyRetentionMillis = idempotencyRetentionMillis
        // An hour beyond the window: a command at the window's edge is refused, never found forgotten.
        self.commandRetentionMillis = max(idempotencyRetentionMillis, commandReplayWindowMillis + 3_600_000)
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let purged = try await store.purgeIdempotency(olderThanMillis: clock.nowMillis() - idempotencyRetentionMillis,
                                                              commandsOlderThanMillis: clock.nowMillis() - commandRetentionMillis)
                if purged > 0 { logger.info("purged idempotency records", metadata: ["count": "\(purged)"]) }
            } catch {
                logger.warning("idempotency purge failed", metadata: ["error": "\(error)"])
            }
            // Wake at once on shutdown instead of finishing the interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
