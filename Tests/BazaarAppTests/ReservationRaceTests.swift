import BazaarCore
import BazaarDomain
import Foundation
import ServiceLifecycle
import Synchronization
import Testing

/// Every way a reservation ends, racing on the same reservations from two nodes (two stores on one database).
@Suite struct ReservationRaceTests {
    /// How a racer's attempt ended: the status it gave the reservation, or nil when another ended it first.
    static func attempt(_ status: ReservationStatus, _ body: () async throws -> ReservationChange) async throws -> ReservationStatus? {
        do {
            let change = try await body()
            #expect(change.reservation.status == status)
            return status
        } catch DomainError.reservationNotActive {
            return nil
        }
    }

    @Test(arguments: Backend.available)
    func fulfilReleaseAndTwoExpiriesRacingEndEachReservationOnceWithOneEvent(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let nodeA = try await ReservationStorageTests.open(db)
        let nodeB = try await ReservationStorageTests.open(db)
        _ = try await nodeA.apply(WriteRequest(commands: [try command(delta: 100)], actor: "t"))
        var ids: [String] = []
        for i in 0..<24 {
            // Half due already (the expiries race the release; a fulfilment is refused), half not (the fulfilments race
            // the release; an expiry is refused).
            ids.append(try await nodeA.createReservation(reservation(quantity: 2, expiresInMillis: i % 2 == 0 ? -1 : 900_000),
                                                         idempotency: nil).reservation.id)
        }
        let outcomes = try await withThrowingTaskGroup(of: (String, ReservationStatus?).self) { group in
            for id in ids {
                group.addTask {
                    let won = try await Self.attempt(.fulfilled) { try await nodeA.fulfilReservation(id: id, actor: "till") }
                    return (id, won)
                }
                group.addTask {
                    let won = try await Self.attempt(.released) { try await nodeB.endReservation(id: id, as: .released) }
                    return (id, won)
                }
                group.addTask {
                    let won = try await Self.attempt(.expired) { try await nodeA.endReservation(id: id, as: .expired) }
                    return (id, won)
                }
                group.addTask {
                    let won = try await Self.attempt(.expired) { try await nodeB.endReservation(id: id, as: .expired) }
                    return (id, won)
                }
                group.addTask {
                    let won = try await Self.attempt(.fulfilled) { try await nodeB.fulfilReservation(id: id, actor: "web") }
                    return (id, won)
                }
            }
            var won: [String: [ReservationStatus]] = [:]
            for try await (id, status) in group {
                if let status { won[id, default: []].append(status) }
            }
            return won
        }
        #expect(outcomes.count == ids.count && outcomes.values.allSatisfy { $0.count == 1 }, "exactly one winner each: \(outcomes)")
        let fulfilled = outcomes.values.filter { $0 == [.fulfilled] }.count
        for id in ids {
            let stored = try #require(try await nodeA.reservation(id: id))
            #expect([stored.status] == outcomes[id], "the stored status is the winner's")
            #expect((stored.movementID != nil) == (stored.status == .fulfilled))
        }
        let level = try #require(try await nodeA.level(storeID: "S1", productID: "P1"))
        #expect(level.reserved == 0 && level.quantity == 100 - 2 * Int64(fulfilled), "one sale per fulfilment, nothing held")
        try await ReservationStorageTests.expectConsistent(nodeA)
        let sales = try await nodeA.auditLog(AuditQuery(storeID: "S1", limit: 100)).filter { $0.reason == .sale }
        #expect(sales.count == fulfilled && Set(sales.compactMap(\.reference)).count == fulfilled)
        // One event per change: the reservation's `active` and its one end.
        let events = try await nodeA.eventOutboxBatch(limit: 1000).map(\.eventID).filter { $0.hasPrefix("rsv_") }
        #expect(events.count == 2 * ids.count && Set(events).count == events.count)
        try await nodeA.close()
        try await nodeB.close()
    }

    /// SIGTERM while a node works through a backlog of due reservations (after downtime, say): the sweep stops between
    /// two reservations, each ended or not, and the rest is due for the next sweep. Before: the sweep went on to the
    /// end of the backlog, holding the node's shutdown until the group cancelled everything (the outbox undrained).
    @Test func aGracefulShutdownStopsABacklogSweepBetweenTwoReservations() async throws {
        let db = TestDatabase()
        let store = try await ReservationStorageTests.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 100_000)], actor: "t"))
        let backlog: Int64 = 1500
        for _ in 0..<backlog { _ = try await store.createReservation(reservation(quantity: 1, expiresInMillis: -1), idempotency: nil) }
        // The sweep is held after its first expiries until it sees the shutdown: on a fast machine it could otherwise
        // end the whole backlog before the test asks for the shutdown, and "stopped at the shutdown" would prove nothing.
        let service = ReservationService(stock: StockService(store: store, cache: InProcessStockCache(), catalog: CatalogIndex(store: store),
                                                             outboxSignal: OutboxSignal()),
                                         store: ExpiriesHeldUntilShutdown(store, after: 10))
        let expiry = ReservationExpiry(reservations: service, logger: .init(label: "expiry"), batchSize: 500)
        let group = ServiceGroup(configuration: .init(services: [expiry], logger: .init(label: "t")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let begun = try await eventually(seconds: 120) {
                try await store.activeReservedTotal(storeID: "S1", productID: "P1") < backlog
            }
            #expect(begun, "the sweep began")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let left = try await store.activeReservedTotal(storeID: "S1", productID: "P1")
        #expect(left > 0, "the sweep stopped at the shutdown (it had expired \(backlog - left) of \(backlog))")
        try await ReservationStorageTests.expectConsistent(store)
        try await store.close()
    }
}

/// A reservation store whose expiries, after the first `after`, each wait until the calling task sees a graceful
/// shutdown (`Task.isShuttingDownGracefully`): a sweep cannot outrun the shutdown it is tested against, and a sweep
/// that ignored the shutdown would still end the whole backlog once it came.
final class ExpiriesHeldUntilShutdown: ReservationStore {
    let base: any ReservationStore
    let after: Int
    let ended = Atomic<Int>(0)

    init(_ base: any ReservationStore, after: Int) {
        self.base = base
        self.after = after
    }

    func endReservation(id: String, as status: ReservationStatus) async throws -> ReservationChange {
        let change = try await base.endReservation(id: id, as: status)
        if ended.add(1, ordering: .relaxed).newValue >= after {
            while !Task.isShuttingDownGracefully, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
        }
        return change
    }

    func createReservation(_ reservation: Reservation, idempotency: IdempotencyClaim?) async throws -> ReservationChange {
        try await base.createReservation(reservation, idempotency: idempotency)
    }
    func fulfilReservation(id: String, actor: String) async throws -> ReservationChange { try await base.fulfilReservation(id: id, actor: actor) }
    func reservation(id: String) async throws -> Reservation? { try await base.reservation(id: id) }
    func reservations(_ query: ReservationQuery) async throws -> [Reservation] { try await base.reservations(query) }
    func expiredReservationIDs(atMillis: Int64, limit: Int) async throws -> [String] {
        try await base.expiredReservationIDs(atMillis: atMillis, limit: limit)
    }
    func activeReservedTotal(storeID: String, productID: String) async throws -> Int64 {
        try await base.activeReservedTotal(storeID: storeID, productID: productID)
    }
}
