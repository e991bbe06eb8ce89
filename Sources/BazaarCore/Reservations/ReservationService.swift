public import BazaarDomain
import Crypto

/// The use cases of reservations (DESIGN.md, "Inventory states"): create, fulfil, release, expire, read.
/// After each commit the node's cache learns the stock row's new state and the outbox relay wakes up.
public final class ReservationService: Sendable {
    public let stock: StockService
    public let store: any ReservationStore
    let clock: WallClock

    public init(stock: StockService, store: any ReservationStore, clock: WallClock = .system) {
        self.stock = stock
        self.store = store
        self.clock = clock
    }

    /// Reservations on the stock service's own storage (every engine implements `ReservationStore`).
    public convenience init(stock: StockService, clock: WallClock = .system) {
        guard let store = stock.store as? any ReservationStore else {
            preconditionFailure("\(type(of: stock.store)) does not store reservations")
        }
        self.init(stock: stock, store: store, clock: clock)
    }

    public func create(
        storeID: String, productID: String, quantity: Int64, expiresInSeconds: Int64?, reference: String?,
        idempotencyKey: String?, scope: String
    ) async throws -> ReservationChange {
        let expiresIn = expiresInSeconds ?? Reservation.defaultExpiresInSeconds
        try Reservation.validate(storeID: storeID, productID: productID, quantity: quantity, expiresInSeconds: expiresIn, reference: reference)
        try await stock.requireCatalog(storeID: storeID, productID: productID)
        let claim = try idempotencyKey.map { key in
            IdempotencyClaim(scope: scope, key: try StockService.validateIdempotencyKey(key),
                             fingerprint: Self.fingerprint(storeID, productID, quantity, expiresIn, reference))
        }
        let now = clock.nowMillis()
        let reservation = Reservation(
            id: ReservationID.next(), storeID: storeID, productID: productID, quantity: quantity, status: .active, reference: reference,
            expiresAtMillis: now + expiresIn * 1000, createdAtMillis: now, updatedAtMillis: now)
        return await committed(try await store.createReservation(reservation, idempotency: claim))
    }

    public func fulfil(id: String, actor: String) async throws -> ReservationChange {
        let change = await committed(try await store.fulfilReservation(id: id, actor: actor))
        if let movement = change.movement { BazaarMetrics.movementApplied(reason: movement.reason.rawValue) }
        return change
    }

    public func release(id: String) async throws -> ReservationChange {
        await committed(try await store.endReservation(id: id, as: .released))
    }

    /// Ends a reservation past its `expires_at`; `reservationNotActive` when it already ended.
    public func expire(id: String) async throws -> ReservationChange {
        await committed(try await store.endReservation(id: id, as: .expired))
    }

    public func reservation(id: String) async throws -> Reservation {
        guard let reservation = try await store.reservation(id: id) else { throw DomainError.notFound(what: "reservation", id: id) }
        return reservation
    }

    public func reservations(_ query: ReservationQuery) async throws -> [Reservation] {
        try await store.reservations(query)
    }

    private func committed(_ change: ReservationChange) async -> ReservationChange {
        guard !change.replayed else { return change }
        if let level = change.level {
            await stock.cache.offer(StockKey(storeID: change.reservation.storeID, productID: change.reservation.productID), level)
        }
        stock.outboxSignal.notify()
        return change
    }

    /// What a creation means, length-prefixed like a movement's (`StockService.fingerprint`), marked apart from it.
    static func fingerprint(_ storeID: String, _ productID: String, _ quantity: Int64, _ expiresIn: Int64, _ reference: String?) -> String {
        var text = "reservation/v1;"
        for field in [storeID, productID, String(quantity), String(expiresIn), reference.map { "r" + $0 } ?? "-"] {
            text += "\(field.utf8.count):\(field);"
        }
        return Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }
}

/// Opens `over_reserved` when a fact took `available` below zero (invariant 7). After the commit, like the other
/// alerts; one active alert per store x product (the alerts table's unique condition).
enum OverReserved {
    static func check(_ receipt: WriteReceipt, store: any AlertStore) async {
        for (movement, level) in zip(receipt.movements, receipt.levels) where level.available < 0 && level.reserved > 0 {
            let alert = Alert(
                id: "alr_" + Hex.random(bytes: 10), kind: .overReserved, status: .open, storeID: movement.storeID,
                productID: movement.productID, quantity: level.quantity, threshold: Double(level.reserved),
                message: AlertRules.message(.overReserved, quantity: level.quantity,
                                            thresholds: StockThresholds(dailyRate: 0, reorderPoint: 0, orderUpTo: 0, leadTimeDays: 0,
                                                                        anomalyAbove: 0, computedAtMillis: 0)),
                openedAtMillis: movement.recordedAtMillis)
            _ = try? await store.recordAlerts(inserted: [alert], changed: [])
        }
    }
}
