public import Logging
import BazaarDomain
public import ServiceLifecycle

/// Ends active reservations past their `expires_at`, every `interval`, on every node. Each expiry is a conditional
/// change under the stock row's lock (`status = 'active'`): when two nodes' sweeps pick the same reservation, one
/// expires it and the other finds it ended, so each expires exactly once, with one event.
public struct ReservationExpiry: Service {
    let reservations: ReservationService
    let clock: WallClock
    let logger: Logger
    let interval: Duration
    let batchSize: Int

    public init(reservations: ReservationService, clock: WallClock = .system, logger: Logger, interval: Duration = .seconds(1),
                batchSize: Int = 500) {
        self.reservations = reservations
        self.clock = clock
        self.logger = logger
        self.interval = interval
        self.batchSize = batchSize
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await sweep()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Expires what is due now; returns how many this call expired.
    @discardableResult
    public func sweep() async -> Int {
        var expired = 0
        do {
            // A graceful shutdown stops a long sweep (a backlog after downtime) between two reservations: the rest is
            // due for the next sweep, on any node, and the shutdown keeps its bound for the outbox's drain.
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let due = try await reservations.store.expiredReservationIDs(atMillis: clock.nowMillis(), limit: batchSize)
                var progressed = false
                for id in due.shuffled() {
                    if Task.isCancelled || Task.isShuttingDownGracefully { return expired }
                    do {
                        _ = try await reservations.expire(id: id)
                        expired += 1
                        progressed = true
                    } catch DomainError.reservationNotActive {
                        continue  // another node's sweep (or a release) ended it first
                    } catch DomainError.notFound {
                        continue
                    }
                }
                if due.count < batchSize || !progressed { break }
            }
        } catch {
            logger.warning("reservation expiry sweep failed; will retry", metadata: ["error": "\(error)"])
        }
        return expired
    }
}
