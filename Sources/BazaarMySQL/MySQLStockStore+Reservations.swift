public import BazaarCore
public import BazaarDomain
import MySQLClient

/// Reservations on MySQL / MariaDB. Each change is one transaction on the primary that locks the stock row first
/// (`SELECT ... FOR UPDATE`, the lock every stock write of that row takes), then the reservation's row; a fulfilment's
/// `sale` goes through `LedgerWrite` and takes its sequence from `ledger_clock` last, after those locks, like a
/// group commit (ARCHITECTURE.md, invariant 3b). Deadlocks and lock waits run the transaction again.
extension MySQLStockStore: ReservationStore {
    static let reservationColumns = SharedSQL.reservationColumns

    static func reservation(_ row: MySQLRow) throws -> Reservation {
        guard let status = ReservationStatus(rawValue: try row.string(5)) else { throw MySQLRows.corrupt("unknown reservation status") }
        return Reservation(sequence: try row.int(0), id: try row.string(1), storeID: try row.string(2), productID: try row.string(3),
                           quantity: try row.int(4), status: status, reference: row.optionalString(6), expiresAtMillis: try row.int(7),
                           createdAtMillis: try row.int(8), updatedAtMillis: try row.int(9), movementID: row.optionalString(10))
    }

    /// Runs `body` in a transaction on the primary, again on a deadlock, a lock wait timeout or a racing duplicate key;
    /// the commit's GTID becomes the request's consistency token.
    func stateTransaction<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        let (value, token): (T, String?) = try await onPrimary { connection in
            var attempt = 0
            while true {
                do {
                    try connection.open()
                    let value = try connection.transaction(body)
                    return (value, connection.lastGTID)
                } catch let error as MySQLError {
                    guard error.isRetryableConflict || error.code == MySQLError.duplicateKey, attempt < 8 else { throw error }
                    attempt += 1
                    usleepMillis(Double.random(in: 1...4) * Double(attempt))
                }
            }
        }
        if let token { ConsistencyScope.current?.recordWrite(token) }
        return value
    }

    static func lockedLevel(_ c: MySQLConnection, storeID: String, productID: String) throws -> StockLevel? {
        try c.select("SELECT \(MySQLRows.levelStateColumns) FROM stock_levels WHERE store_id = ? AND product_id = ? FOR UPDATE",
                     [storeID, productID]).first.map { try MySQLRows.level($0, at: 0) }
    }

    private static func changeReserved(_ c: MySQLConnection, _ r: Reservation, by delta: Int64) throws {
        try c.execute("UPDATE stock_levels SET reserved = reserved + ?, state_changes = state_changes + 1 WHERE store_id = ? AND product_id = ?",
                      [delta, r.storeID, r.productID])
    }

    private static func queueEvent(_ c: MySQLConnection, _ r: Reservation, level: StockLevel) throws {
        try c.execute("INSERT INTO event_outbox (topic, `key`, event_id, payload) VALUES (?, ?, ?, ?)",
                      [ReservationEvent.topic, r.storeID, r.eventID, r.cloudEventJSON(stockRevision: level.revision)])
    }

    /// The reservation, read again under a row lock once its stock row is locked (the stock row first, always).
    private static func lockReservation(_ c: MySQLConnection, id: String) throws -> Reservation {
        guard let key = try c.select("SELECT store_id, product_id FROM reservations WHERE id = ?", [id]).first else {
            throw DomainError.notFound(what: "reservation", id: id)
        }
        _ = try lockedLevel(c, storeID: try key.string(0), productID: try key.string(1))
        guard let row = try c.select("SELECT \(reservationColumns) FROM reservations WHERE id = ? FOR UPDATE", [id]).first else {
            throw DomainError.notFound(what: "reservation", id: id)
        }
        return try reservation(row)
    }

    public func createReservation(_ reservation: Reservation, idempotency: IdempotencyClaim?) async throws -> ReservationChange {
        try await stateTransaction { c in
            if let claim = idempotency, let record = try MySQLLedgerTransaction(connection: c).idempotencyRecord(scope: claim.scope, key: claim.key) {
                guard record.fingerprint == claim.fingerprint, let id = record.movementIDs.first,
                    let earlier = try c.select("SELECT \(Self.reservationColumns) FROM reservations WHERE id = ?", [id]).first.map(Self.reservation)
                else { throw DomainError.idempotencyKeyReused(key: claim.key) }
                return ReservationChange(reservation: earlier, level: nil, replayed: true)
            }
            var level = try Self.lockedLevel(c, storeID: reservation.storeID, productID: reservation.productID) ?? .empty
            guard level.available >= reservation.quantity else {
                throw DomainError.insufficientAvailable(storeID: reservation.storeID, productID: reservation.productID,
                                                        available: level.available, requested: reservation.quantity)
            }
            let inserted = try c.execute("""
                INSERT INTO reservations (id, store_id, product_id, quantity, status, reference, expires_at_ms, created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [reservation.id, reservation.storeID, reservation.productID, reservation.quantity, reservation.status.rawValue,
                      reservation.reference, reservation.expiresAtMillis, reservation.createdAtMillis, reservation.updatedAtMillis])
            var stored = reservation
            stored.sequence = Int64(inserted.lastInsertID)
            try Self.changeReserved(c, reservation, by: reservation.quantity)
            level.reserved += reservation.quantity
            level.stateChanges += 1
            try Self.queueEvent(c, stored, level: level)
            if let claim = idempotency {
                // A racing request with the same key fails here on the primary key, and its retry replays this one.
                try c.execute(MySQLLedgerTransaction.insertIdempotencySQL,
                              [claim.scope, claim.key, claim.fingerprint, reservation.id, reservation.createdAtMillis])
            }
            return ReservationChange(reservation: stored, level: level)
        }
    }

    public func fulfilReservation(id: String, actor: String) async throws -> ReservationChange {
        let clock = self.clock
        return try await stateTransaction { c in
            var reservation = try Self.lockReservation(c, id: id)
            let now = clock.nowMillis()
            try reservation.requireFulfillable(atMillis: now)
            var tx = MySQLLedgerTransaction(connection: c)
            try tx.lock([.init(storeID: reservation.storeID, productID: reservation.productID)])
            let sale = try MovementCommand(storeID: reservation.storeID, productID: reservation.productID,
                                           change: .delta(-reservation.quantity), reason: .sale, reference: reservation.id)
            var receipt = try LedgerWrite.apply(WriteRequest(commands: [sale], actor: actor), in: &tx, nowMillis: now)
            try Self.changeReserved(c, reservation, by: -reservation.quantity)
            reservation.status = .fulfilled
            reservation.updatedAtMillis = now
            reservation.movementID = receipt.movements[0].movementID
            try c.execute("UPDATE reservations SET status = ?, updated_at_ms = ?, movement_id = ? WHERE id = ? AND status = 'active'",
                          [reservation.status.rawValue, now, reservation.movementID, id])
            var level = receipt.levels[0]
            level.reserved -= reservation.quantity
            level.stateChanges += 1
            try Self.queueEvent(c, reservation, level: level)
            // Last: the ledger row, its sequence from `ledger_clock`, the stock row's quantity and the movement's event.
            let sequences = try tx.flush()
            receipt.movements[0].sequence = sequences[0]
            return ReservationChange(reservation: reservation, level: level, movement: receipt.movements[0])
        }
    }

    public func endReservation(id: String, as status: ReservationStatus) async throws -> ReservationChange {
        precondition(status == .released || status == .expired)
        let clock = self.clock
        return try await stateTransaction { c in
            var reservation = try Self.lockReservation(c, id: id)
            let now = clock.nowMillis()
            guard reservation.status == .active, status != .expired || reservation.expiresAtMillis <= now else {
                throw DomainError.reservationNotActive(id: id, status: reservation.status.rawValue)
            }
            let updated = try c.execute("UPDATE reservations SET status = ?, updated_at_ms = ? WHERE id = ? AND status = 'active'",
                                        [status.rawValue, now, id])
            guard updated.affectedRows == 1 else { throw DomainError.reservationNotActive(id: id, status: reservation.status.rawValue) }
            try Self.changeReserved(c, reservation, by: -reservation.quantity)
            reservation.status = status
            reservation.updatedAtMillis = now
            guard let level = try Self.lockedLevel(c, storeID: reservation.storeID, productID: reservation.productID) else {
                throw MySQLRows.corrupt("reservation \(id) of a missing stock row")
            }
            try Self.queueEvent(c, reservation, level: level)
            return ReservationChange(reservation: reservation, level: level)
        }
    }

    /// On a replica, else on the primary: a reservation just made may not have reached the replica yet (a client
    /// without a consistency token fulfilling it at once must not get a 404).
    public func reservation(id: String) async throws -> Reservation? {
        let read: @Sendable (MySQLConnection) throws -> Reservation? = { c in
            try c.select("SELECT \(Self.reservationColumns) FROM reservations WHERE id = ?", [id]).first.map(Self.reservation)
        }
        if let found = try await onReplica(read) { return found }
        return try await onPrimary(read)
    }

    public func reservations(_ query: ReservationQuery) async throws -> [Reservation] {
        let sql = query.sql(selecting: Self.reservationColumns)
        let parameters = MySQLRows.bound(query.parameters)
        return try await onReplica { try $0.select(sql, parameters).map(Self.reservation) }
    }

    public func expiredReservationIDs(atMillis: Int64, limit: Int) async throws -> [String] {
        try await onPrimary { c in
            try c.select("SELECT id FROM reservations WHERE status = 'active' AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
                         [atMillis, limit]).map { try $0.string(0) }
        }
    }

    public func activeReservedTotal(storeID: String, productID: String) async throws -> Int64 {
        try await onPrimary { c in
            try c.select("SELECT CAST(COALESCE(SUM(quantity), 0) AS SIGNED) FROM reservations WHERE store_id = ? AND product_id = ? AND status = 'active'",
                         [storeID, productID])[0].int(0)
        }
    }
}
