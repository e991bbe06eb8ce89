public import BazaarDomain

/// Filters of `GET /v1/reservations`; `beforeSequence` is the page cursor (newest first).
public struct ReservationQuery: Sendable, Equatable {
    public var storeID: String?
    public var productID: String?
    public var status: ReservationStatus?
    public var beforeSequence: Int64?
    public var limit: Int

    public init(storeID: String? = nil, productID: String? = nil, status: ReservationStatus? = nil, beforeSequence: Int64? = nil,
                limit: Int = Paging.defaultLimit) {
        self.storeID = storeID
        self.productID = productID
        self.status = status
        self.beforeSequence = beforeSequence
        self.limit = limit
    }

    /// The filters as SQL conditions on `reservations`, one parameter each (the text depends only on which are set).
    public var conditions: [(sql: String, parameter: SQLParameter)] {
        var conditions: [(String, SQLParameter)] = []
        if let storeID { conditions.append(("store_id = ?", .text(storeID))) }
        if let productID { conditions.append(("product_id = ?", .text(productID))) }
        if let status { conditions.append(("status = ?", .text(status.rawValue))) }
        if let beforeSequence { conditions.append(("seq < ?", .integer(beforeSequence))) }
        return conditions
    }

    public func sql(selecting columns: String) -> String {
        let conditions = conditions.map(\.sql)
        return "SELECT \(columns) FROM reservations" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY seq DESC LIMIT ?"
    }

    public var parameters: [SQLParameter] { conditions.map(\.parameter) + [.integer(Int64(limit))] }
}

/// A committed change of a reservation: the reservation as it is now, the stock row it left (with its states),
/// and the `sale` of a fulfilment.
public struct ReservationChange: Sendable, Equatable {
    public var reservation: Reservation
    public var level: StockLevel?
    public var movement: Movement?
    /// An earlier request with the same idempotency key made it (nothing was written now).
    public var replayed: Bool

    public init(reservation: Reservation, level: StockLevel?, movement: Movement? = nil, replayed: Bool = false) {
        self.reservation = reservation
        self.level = level
        self.movement = movement
        self.replayed = replayed
    }
}

/// Storage of reservations, beside `StockStore` (both engines implement both). Every change runs in one transaction
/// that first locks the stock row (the lock every stock write of that row takes), so the check of `available` and
/// the change of `reserved` cannot interleave with a movement or another reservation (invariants 6 and 7); each
/// change queues its `bazaar.stock.reservation` event in the same transaction.
public protocol ReservationStore: Sendable {
    /// Inserts an active reservation and adds its quantity to `reserved`; throws `insufficientAvailable` when
    /// `available` is short. A known idempotency key answers the reservation it made (`replayed`), or
    /// `idempotencyKeyReused` for a different request.
    func createReservation(_ reservation: Reservation, idempotency: IdempotencyClaim?) async throws -> ReservationChange
    /// Records the `sale` of the reserved quantity (reference: the reservation id) and marks it fulfilled, together.
    func fulfilReservation(id: String, actor: String) async throws -> ReservationChange
    /// Ends an active reservation as `released` or `expired` (an expiry only once `expires_at` has passed): its
    /// quantity leaves `reserved`. `reservationNotActive` when it already ended (another node's sweep, say).
    func endReservation(id: String, as status: ReservationStatus) async throws -> ReservationChange
    func reservation(id: String) async throws -> Reservation?
    /// Newest first.
    func reservations(_ query: ReservationQuery) async throws -> [Reservation]
    /// Ids of active reservations whose `expires_at` is at or before `atMillis`, soonest first (read on the primary).
    func expiredReservationIDs(atMillis: Int64, limit: Int) async throws -> [String]
    /// The sum of the quantities of active reservations of one store x product (invariant 6 check).
    func activeReservedTotal(storeID: String, productID: String) async throws -> Int64
}

/// Reservation ids: `rsv_` and 20 hex digits (in the identifier alphabet).
public enum ReservationID {
    public static func next() -> String { "rsv_" + Hex.random(bytes: 10) }
}
