public import BazaarCore
public import BazaarDomain
import GRDB

/// Reservations on SQLite. Each change is one transaction on the single writer (serialized with the group commits,
/// so the stock row read is the locked read invariants 6 and 7 need); its event goes to `event_outbox` with it.
extension SQLiteStockStore: ReservationStore {
    static let reservationColumns = SharedSQL.reservationColumns

    static func reservation(from row: Row) throws -> Reservation {
        let statusText: String = row[5]
        guard let status = ReservationStatus(rawValue: statusText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown reservation status \(statusText)")
        }
        return Reservation(sequence: row[0], id: row[1], storeID: row[2], productID: row[3], quantity: row[4], status: status,
                           reference: row[6], expiresAtMillis: row[7], createdAtMillis: row[8], updatedAtMillis: row[9], movementID: row[10])
    }

    private static func fetchReservation(_ db: Database, id: String) throws -> Reservation? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(reservationColumns) FROM reservations WHERE id = ?"), arguments: [id])
            .map(reservation(from:))
    }

    /// Adds `delta` to the row's `reserved` (one state change) and returns the row as it is now.
    private static func changeReserved(_ db: Database, storeID: String, productID: String, by delta: Int64) throws -> StockLevel {
        try db.cachedStatement(sql: """
            UPDATE stock_levels SET reserved = reserved + ?, state_changes = state_changes + 1 WHERE store_id = ? AND product_id = ?
            """).execute(arguments: [delta, storeID, productID])
        guard let level = try SQLiteLedgerTransaction(db: db).lockLevel(storeID: storeID, productID: productID) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "reservation of a missing stock row \(storeID)/\(productID)")
        }
        return level
    }

    private static func queueEvent(_ db: Database, _ reservation: Reservation, level: StockLevel) throws {
        try db.cachedStatement(sql: "INSERT INTO event_outbox (topic, key, event_id, payload) VALUES (?, ?, ?, ?)")
            .execute(arguments: [ReservationEvent.topic, reservation.storeID, reservation.eventID,
                                 reservation.cloudEventJSON(stockRevision: level.revision)])
    }

    public func createReservation(_ reservation: Reservation, idempotency: IdempotencyClaim?) async throws -> ReservationChange {
        try await pool.write { db in
            let tx = SQLiteLedgerTransaction(db: db)
            if let claim = idempotency, let record = try tx.idempotencyRecord(scope: claim.scope, key: claim.key) {
                guard record.fingerprint == claim.fingerprint, let id = record.movementIDs.first,
                    let earlier = try Self.fetchReservation(db, id: id)
                else { throw DomainError.idempotencyKeyReused(key: claim.key) }
                return ReservationChange(reservation: earlier, level: nil, replayed: true)
            }
            let level = try tx.lockLevel(storeID: reservation.storeID, productID: reservation.productID) ?? .empty
            guard level.available >= reservation.quantity else {
                throw DomainError.insufficientAvailable(storeID: reservation.storeID, productID: reservation.productID,
                                                        available: level.available, requested: reservation.quantity)
            }
            try db.cachedStatement(sql: """
                INSERT INTO reservations (id, store_id, product_id, quantity, status, reference, expires_at_ms, created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [reservation.id, reservation.storeID, reservation.productID, reservation.quantity,
                                         reservation.status.rawValue, reservation.reference, reservation.expiresAtMillis,
                                         reservation.createdAtMillis, reservation.updatedAtMillis])
            var stored = reservation
            stored.sequence = db.lastInsertedRowID
            let after = try Self.changeReserved(db, storeID: reservation.storeID, productID: reservation.productID, by: reservation.quantity)
            try Self.queueEvent(db, stored, level: after)
            if let claim = idempotency {
                try tx.saveIdempotencyRecord(claim, movementIDs: [reservation.id], atMillis: reservation.createdAtMillis)
            }
            return ReservationChange(reservation: stored, level: after)
        }
    }

    public func fulfilReservation(id: String, actor: String) async throws -> ReservationChange {
        let clock = self.clock
        return try await pool.write { db in
            // Read inside the writer: a fulfilment queued behind a long write is judged when it runs, not when it asked.
            let now = clock.nowMillis()
            guard var reservation = try Self.fetchReservation(db, id: id) else { throw DomainError.notFound(what: "reservation", id: id) }
            try reservation.requireFulfillable(atMillis: now)
            _ = try Self.changeReserved(db, storeID: reservation.storeID, productID: reservation.productID, by: -reservation.quantity)
            // The sale through the one write algorithm (a fact: always recorded), after `reserved` let go of it.
            var tx = SQLiteLedgerTransaction(db: db)
            let sale = try MovementCommand(storeID: reservation.storeID, productID: reservation.productID,
                                           change: .delta(-reservation.quantity), reason: .sale, reference: reservation.id)
            let receipt = try LedgerWrite.apply(WriteRequest(commands: [sale], actor: actor), in: &tx, nowMillis: now)
            try Self.recordDemand(receipt.movements, db: db, nowMillis: now)
            reservation.status = .fulfilled
            reservation.updatedAtMillis = now
            reservation.movementID = receipt.movements[0].movementID
            try db.cachedStatement(sql: "UPDATE reservations SET status = ?, updated_at_ms = ?, movement_id = ? WHERE id = ? AND status = 'active'")
                .execute(arguments: [reservation.status.rawValue, now, reservation.movementID, id])
            let level = receipt.levels[0]
            try Self.queueEvent(db, reservation, level: level)
            return ReservationChange(reservation: reservation, level: level, movement: receipt.movements[0])
        }
    }

    public func endReservation(id: String, as status: ReservationStatus) async throws -> ReservationChange {
        precondition(status == .released || status == .expired)
        let now = clock.nowMillis()
        return try await pool.write { db in
            guard var reservation = try Self.fetchReservation(db, id: id) else { throw DomainError.notFound(what: "reservation", id: id) }
            guard reservation.status == .active, status != .expired || reservation.expiresAtMillis <= now else {
                throw DomainError.reservationNotActive(id: id, status: reservation.status.rawValue)
            }
            try db.cachedStatement(sql: "UPDATE reservations SET status = ?, updated_at_ms = ? WHERE id = ? AND status = 'active'")
                .execute(arguments: [status.rawValue, now, id])
            guard db.changesCount == 1 else { throw DomainError.reservationNotActive(id: id, status: reservation.status.rawValue) }
            reservation.status = status
            reservation.updatedAtMillis = now
            let level = try Self.changeReserved(db, storeID: reservation.storeID, productID: reservation.productID, by: -reservation.quantity)
            try Self.queueEvent(db, reservation, level: level)
            return ReservationChange(reservation: reservation, level: level)
        }
    }

    public func reservation(id: String) async throws -> Reservation? {
        try await pool.read { db in try Self.fetchReservation(db, id: id) }
    }

    public func reservations(_ query: ReservationQuery) async throws -> [Reservation] {
        try await pool.read { db in
            let arguments = Self.arguments(query.parameters)
            return try Row.fetchAll(db.cachedStatement(sql: query.sql(selecting: Self.reservationColumns)), arguments: arguments)
                .map(Self.reservation(from:))
        }
    }

    public func expiredReservationIDs(atMillis: Int64, limit: Int) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM reservations WHERE status = 'active' AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?
                """), arguments: [atMillis, limit])
        }
    }

    public func activeReservedTotal(storeID: String, productID: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE store_id = ? AND product_id = ? AND status = 'active'
                """, arguments: [storeID, productID]) ?? 0
        }
    }
}
