import BazaarCore
import BazaarDomain
import Foundation
import Testing

/// A reservation as the service would make it, expiring `expiresInMillis` from now (negative: already due).
func reservation(_ store: String = "S1", _ product: String = "P1", quantity: Int64, expiresInMillis: Int64 = 900_000,
                 reference: String? = nil) -> Reservation {
    let now = WallClock.system.nowMillis()
    return Reservation(id: ReservationID.next(), storeID: store, productID: product, quantity: quantity, status: .active,
                       reference: reference, expiresAtMillis: now + expiresInMillis, createdAtMillis: now, updatedAtMillis: now)
}

/// The inventory states on every storage engine (the storage contract, extended: invariants 6 and 7).
@Suite struct ReservationStorageTests {
    static func open(_ db: borrowing TestDatabase) async throws -> any StockStore & ReservationStore {
        try #require(try await Stores.open(db) as? any StockStore & ReservationStore)
    }

    /// Invariant 6 (`reserved` is the sum of active reservations) and 1 (the ledger) after each step.
    static func expectConsistent(_ store: any StockStore & ReservationStore, _ s: String = "S1", _ p: String = "P1",
                                 sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let level = try #require(try await store.level(storeID: s, productID: p), sourceLocation: sourceLocation)
        #expect(level.reserved == (try await store.activeReservedTotal(storeID: s, productID: p)), sourceLocation: sourceLocation)
        let totals = try await store.ledgerTotals(storeID: s, productID: p)
        #expect(totals.sum == level.quantity && totals.rows == level.version, sourceLocation: sourceLocation)
    }

    @Test(arguments: Backend.available)
    func reservationsHoldAvailableStockAndCommandsCannotTakeIt(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 5)], actor: "t"))
        let created = try await store.createReservation(reservation(quantity: 3, reference: "web-1"), idempotency: nil)
        #expect(created.reservation.status == .active && created.reservation.sequence > 0 && !created.replayed)
        #expect(created.level?.reserved == 3 && created.level?.available == 2 && created.level?.revision == 2)
        let read = try #require(try await store.level(storeID: "S1", productID: "P1"))
        #expect(read.quantity == 5 && read.reserved == 3 && read.available == 2 && read.version == 1 && read.stateChanges == 1)
        try await Self.expectConsistent(store)
        // Its event is in the outbox, on the movements topic, keyed by the store.
        let events = try await store.eventOutboxBatch(limit: 10)
        #expect(events.map(\.eventID) == [created.reservation.id + ":active"])
        #expect(events.first?.topic == "bazaar.stock-movements" && events.first?.key == "S1")
        #expect(events.first?.payload.contains(#""type":"bazaar.stock.reservation""#) == true)

        await #expect(throws: DomainError.insufficientAvailable(storeID: "S1", productID: "P1", available: 2, requested: 3)) {
            _ = try await store.createReservation(reservation(quantity: 3), idempotency: nil)
        }
        // Commands may not take `available` below zero; a fact may, and the receipt tells it.
        for reason in [MovementReason.adjustment, .damage, .transferOut] {
            await #expect(throws: DomainError.insufficientStock(storeID: "S1", productID: "P1", available: 2, requested: 3)) {
                _ = try await store.apply(WriteRequest(commands: [try command(delta: -3, reason: reason)], actor: "t"))
            }
        }
        await #expect(throws: DomainError.self) {
            _ = try await store.apply(WriteRequest(commands: [try MovementCommand(storeID: "S1", productID: "P1", change: .quantity(2),
                                                                                   reason: .adjustment)], actor: "t"))
        }
        let damage = try await store.apply(WriteRequest(commands: [try command(delta: -2, reason: .damage)], actor: "t"))
        #expect(damage.levels.first?.available == 0 && damage.levels.first?.reserved == 3)
        let sale = try await store.apply(WriteRequest(commands: [try command(delta: -1, reason: .sale)], actor: "t"))
        #expect(sale.levels.first?.quantity == 2 && sale.levels.first?.available == -1)
        try await Self.expectConsistent(store)

        // Fulfil: the sale of the reserved quantity, with the reservation as its reference, in the same commit.
        let fulfilled = try await store.fulfilReservation(id: created.reservation.id, actor: "shop")
        let movement = try #require(fulfilled.movement)
        #expect(fulfilled.reservation.status == .fulfilled && fulfilled.reservation.movementID == movement.movementID)
        #expect(movement.reason == .sale && movement.delta == -3 && movement.reference == created.reservation.id && movement.actor == "shop")
        #expect(movement.sequence > 0)
        #expect(fulfilled.level?.quantity == -1 && fulfilled.level?.reserved == 0 && fulfilled.level?.version == 4)
        #expect(try await store.level(storeID: "S1", productID: "P1") == fulfilled.level)
        #expect(try await store.auditLog(AuditQuery(storeID: "S1", limit: 1)) == [movement])
        try await Self.expectConsistent(store)
        await #expect(throws: DomainError.reservationNotActive(id: created.reservation.id, status: "fulfilled")) {
            _ = try await store.fulfilReservation(id: created.reservation.id, actor: "shop")
        }
        await #expect(throws: DomainError.reservationNotActive(id: created.reservation.id, status: "fulfilled")) {
            _ = try await store.endReservation(id: created.reservation.id, as: .released)
        }
        await #expect(throws: DomainError.notFound(what: "reservation", id: "rsv_missing")) {
            _ = try await store.fulfilReservation(id: "rsv_missing", actor: "shop")
        }
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func releaseAndExpiryGiveTheQuantityBackOnce(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 10)], actor: "t"))
        let kept = try await store.createReservation(reservation(quantity: 2), idempotency: nil)
        let released = try await store.createReservation(reservation(quantity: 3), idempotency: nil)
        let due = try await store.createReservation(reservation(quantity: 4, expiresInMillis: -1), idempotency: nil)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.available == 1)

        // Not yet due: an expiry is refused; a release is not.
        await #expect(throws: DomainError.reservationNotActive(id: kept.reservation.id, status: "active")) {
            _ = try await store.endReservation(id: kept.reservation.id, as: .expired)
        }
        let r = try await store.endReservation(id: released.reservation.id, as: .released)
        #expect(r.reservation.status == .released && r.level?.reserved == 6 && r.level?.available == 4)
        #expect(try await store.expiredReservationIDs(atMillis: WallClock.system.nowMillis(), limit: 10) == [due.reservation.id])
        let e = try await store.endReservation(id: due.reservation.id, as: .expired)
        #expect(e.reservation.status == .expired && e.level?.reserved == 2 && e.level?.available == 8)
        await #expect(throws: DomainError.reservationNotActive(id: due.reservation.id, status: "expired")) {
            _ = try await store.endReservation(id: due.reservation.id, as: .expired)
        }
        #expect(try await store.expiredReservationIDs(atMillis: WallClock.system.nowMillis(), limit: 10).isEmpty)
        try await Self.expectConsistent(store)
        // Listing: newest first, filters, cursor.
        let all = try await store.reservations(ReservationQuery(storeID: "S1"))
        #expect(all.map(\.id) == [due.reservation.id, released.reservation.id, kept.reservation.id])
        #expect(try await store.reservations(ReservationQuery(status: .active)).map(\.id) == [kept.reservation.id])
        #expect(try await store.reservations(ReservationQuery(storeID: "S1", productID: "P1", beforeSequence: all[1].sequence)).map(\.id)
            == [kept.reservation.id])
        #expect(try await store.reservations(ReservationQuery(productID: "P2")).isEmpty)
        let eventIDs = try await store.eventOutboxBatch(limit: 100).map(\.eventID)
        #expect(eventIDs.filter { $0.hasSuffix(":released") || $0.hasSuffix(":expired") }.sorted()
            == [released.reservation.id + ":released", due.reservation.id + ":expired"].sorted())
        try await store.close()
    }

    /// A hold that has run out is not fulfilled in the second before the sweep marks it `expired`: its quantity is no
    /// longer promised (it was sold from the shelf as if it still were). Nothing changes; the sweep expires it after.
    @Test(arguments: Backend.available)
    func aReservationPastItsExpiryIsNotFulfilledBeforeTheSweep(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 10)], actor: "t"))
        let due = try await store.createReservation(reservation(quantity: 4, expiresInMillis: -1), idempotency: nil)
        await #expect(throws: DomainError.reservationNotActive(id: due.reservation.id, status: "expired")) {
            _ = try await store.fulfilReservation(id: due.reservation.id, actor: "t")
        }
        let level = try #require(try await store.level(storeID: "S1", productID: "P1"))
        #expect(level.quantity == 10 && level.version == 1 && level.reserved == 4, "nothing sold, still held until the sweep")
        #expect(try await store.reservation(id: due.reservation.id)?.status == .active)
        #expect(try await store.endReservation(id: due.reservation.id, as: .expired).reservation.status == .expired)
        try await Self.expectConsistent(store)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func aRetriedReservationIsMadeOnce(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 10)], actor: "t"))
        let claim = IdempotencyClaim(scope: "k1", key: "order-7", fingerprint: "f1")
        // Sent several times at once: one reservation, the others replay it.
        let changes = try await withThrowingTaskGroup(of: ReservationChange.self) { group in
            for _ in 0..<6 { group.addTask { try await store.createReservation(reservation(quantity: 4), idempotency: claim) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(changes.map(\.reservation.id)).count == 1)
        #expect(changes.filter { !$0.replayed }.count == 1)
        #expect(try await store.level(storeID: "S1", productID: "P1")?.reserved == 4)
        await #expect(throws: DomainError.idempotencyKeyReused(key: "order-7")) {
            _ = try await store.createReservation(reservation(quantity: 5),
                                                  idempotency: IdempotencyClaim(scope: "k1", key: "order-7", fingerprint: "f2"))
        }
        try await Self.expectConsistent(store)
        try await store.close()
    }

    @Test(arguments: Backend.available)
    func concurrentReservationsOfTheLastUnitsSucceedExactlyAsManyTimesAsThereAreUnits(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let store = try await Self.open(db)
        _ = try await store.apply(WriteRequest(commands: [try command(delta: 12)], actor: "t"))
        // Movements race the reservations: sales (facts) and damages (commands) of the same row.
        let outcomes = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<48 {
                group.addTask {
                    if i % 8 == 7 {
                        _ = try? await store.apply(WriteRequest(commands: [try command(delta: 1, reason: .receipt)], actor: "t"))
                        return 0
                    }
                    do {
                        _ = try await store.createReservation(reservation(quantity: 1), idempotency: nil)
                        return 1
                    } catch DomainError.insufficientAvailable {
                        return 0
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let level = try #require(try await store.level(storeID: "S1", productID: "P1"))
        #expect(level.quantity == 18, "12 + 6 receipts")
        #expect(outcomes == Int(level.reserved) && level.available >= 0)
        #expect(outcomes >= 12 && outcomes <= 18)
        try await Self.expectConsistent(store)
        // Without receipts racing: exactly as many as there are units.
        _ = try await store.apply(WriteRequest(commands: [try command("S2", "P1", delta: 7)], actor: "t"))
        let successes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    do {
                        _ = try await store.createReservation(reservation("S2", quantity: 1), idempotency: nil)
                        return 1
                    } catch DomainError.insufficientAvailable {
                        return 0
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(successes == 7)
        #expect(try await store.level(storeID: "S2", productID: "P1")?.available == 0)
        try await Self.expectConsistent(store, "S2")
        try await store.close()
    }

    /// Two nodes (two stores on one database) sweep the same due reservations at once: each expires exactly once.
    @Test(arguments: Backend.available)
    func twoNodesSharingExpiryNeverReleaseTwice(_ backend: Backend) async throws {
        let db = TestDatabase(backend)
        let nodeA = try await Self.open(db)
        let nodeB = try await Self.open(db)
        _ = try await nodeA.apply(WriteRequest(commands: [try command(delta: 100), try command("S1", "P2", delta: 100)], actor: "t"))
        var ids: [String] = []
        for i in 0..<40 {
            ids.append(try await nodeA.createReservation(reservation("S1", i % 2 == 0 ? "P1" : "P2", quantity: 2, expiresInMillis: -1),
                                                         idempotency: nil).reservation.id)
        }
        func service(_ store: any StockStore) -> ReservationService {
            ReservationService(stock: StockService(store: store, cache: InProcessStockCache(), catalog: CatalogIndex(store: store),
                                                   outboxSignal: OutboxSignal()))
        }
        let sweeps = [ReservationExpiry(reservations: service(nodeA), logger: .init(label: "a"), batchSize: 7),
                      ReservationExpiry(reservations: service(nodeB), logger: .init(label: "b"), batchSize: 7)]
        let counts = await withTaskGroup(of: Int.self) { group in
            for sweep in sweeps + sweeps { group.addTask { await sweep.sweep() } }
            return await group.reduce(0, +)
        }
        #expect(counts == 40, "every reservation expired by exactly one sweep")
        let statuses = try await nodeB.reservations(ReservationQuery(limit: 100)).map(\.status)
        #expect(statuses.count == 40 && statuses.allSatisfy { $0 == .expired })
        for product in ["P1", "P2"] {
            #expect(try await nodeB.level(storeID: "S1", productID: product)?.reserved == 0)
            try await Self.expectConsistent(nodeB, "S1", product)
        }
        let expiredEvents = try await nodeA.eventOutboxBatch(limit: 1000).map(\.eventID).filter { $0.hasSuffix(":expired") }
        #expect(expiredEvents.count == 40 && Set(expiredEvents) == Set(ids.map { $0 + ":expired" }))
        try await nodeA.close()
        try await nodeB.close()
    }
}
