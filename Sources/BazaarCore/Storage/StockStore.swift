public import BazaarDomain

/// A request to change stock: one or more commands applied in order, all or nothing.
public struct WriteRequest: Sendable {
    public var commands: [MovementCommand]
    /// Recorded as the movements' `actor`.
    public var actor: String
    public var idempotency: IdempotencyClaim?

    public init(commands: [MovementCommand], actor: String, idempotency: IdempotencyClaim? = nil) {
        self.commands = commands
        self.actor = actor
        self.idempotency = idempotency
    }
}

/// An `Idempotency-Key`, scoped to the API key that sent it, with the fingerprint of the request it names.
public struct IdempotencyClaim: Sendable, Equatable {
    public var scope: String
    public var key: String
    public var fingerprint: String

    public init(scope: String, key: String, fingerprint: String) {
        self.scope = scope
        self.key = key
        self.fingerprint = fingerprint
    }
}

/// The committed result of a write. `replayed` is true when an earlier request with the same idempotency key made it.
public struct WriteReceipt: Sendable, Equatable {
    public var movements: [Movement]
    public var replayed: Bool
    /// The stock rows after each movement, with their inventory states (empty for a replay: what the rows hold
    /// now is not what the first answer saw). What caches are offered; not part of the answer (nor of `==`).
    public var levels: [StockLevel]

    public init(movements: [Movement], replayed: Bool, levels: [StockLevel] = []) {
        self.movements = movements
        self.replayed = replayed
        self.levels = levels
    }

    public static func == (a: WriteReceipt, b: WriteReceipt) -> Bool { a.movements == b.movements && a.replayed == b.replayed }
}

/// Filters of `/audit-logs`; `beforeSequence` is the page cursor (newest first).
public struct AuditQuery: Sendable, Equatable {
    public var storeID: String?
    public var productID: String?
    public var actor: String?
    public var reason: MovementReason?
    public var sinceMillis: Int64?
    public var untilMillis: Int64?
    public var beforeSequence: Int64?
    public var limit: Int

    public init(
        storeID: String? = nil, productID: String? = nil, actor: String? = nil, reason: MovementReason? = nil,
        sinceMillis: Int64? = nil, untilMillis: Int64? = nil, beforeSequence: Int64? = nil, limit: Int = Paging.defaultLimit
    ) {
        self.storeID = storeID
        self.productID = productID
        self.actor = actor
        self.reason = reason
        self.sinceMillis = sinceMillis
        self.untilMillis = untilMillis
        self.beforeSequence = beforeSequence
        self.limit = limit
    }
}

/// A parameter of a generated SQL condition, for storage engines to bind their own way.
public enum SQLParameter: Sendable, Equatable {
    case text(String)
    case integer(Int64)
}

extension AuditQuery {
    /// The query's filters as SQL conditions on `stock_movements`, one parameter each (`?`), shared by the engines.
    public var conditions: [(sql: String, parameter: SQLParameter)] {
        var conditions: [(String, SQLParameter)] = []
        if let storeID { conditions.append(("store_id = ?", .text(storeID))) }
        if let productID { conditions.append(("product_id = ?", .text(productID))) }
        if let actor { conditions.append(("actor = ?", .text(actor))) }
        if let reason { conditions.append(("reason = ?", .text(reason.rawValue))) }
        if let sinceMillis { conditions.append(("at_ms >= ?", .integer(sinceMillis))) }
        if let untilMillis { conditions.append(("at_ms < ?", .integer(untilMillis))) }
        if let beforeSequence { conditions.append(("seq < ?", .integer(beforeSequence))) }
        return conditions
    }

    /// `SELECT <columns> FROM stock_movements WHERE ... ORDER BY seq DESC LIMIT ?` for these filters; the limit is the
    /// last parameter (`parameters`). The text depends only on which filters are set (at most 2^7 texts), never on
    /// their values: engines cache a prepared statement per text, and a text per limit would exhaust the server's
    /// prepared-statement budget (`max_prepared_stmt_count` on MySQL).
    public func sql(selecting columns: String) -> String {
        let conditions = conditions.map(\.sql)
        return "SELECT \(columns) FROM stock_movements" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY seq DESC LIMIT ?"
    }

    /// The values for `sql(selecting:)`'s placeholders, in order: the conditions' and then the limit.
    public var parameters: [SQLParameter] { conditions.map(\.parameter) + [.integer(Int64(limit))] }
}

/// One stock row of a listing.
public struct StockRow: Sendable, Equatable {
    public var storeID: String
    public var productID: String
    public var level: StockLevel

    public init(storeID: String, productID: String, level: StockLevel) {
        self.storeID = storeID
        self.productID = productID
        self.level = level
    }
}

/// An item of a store's replenishment page: at or below its stored reorder point and short of its order-up-to level.
public struct ReplenishmentItem: Sendable, Equatable {
    public var productID: String
    public var onHand: Int64
    public var thresholds: StockThresholds
    /// The pack size with the store's override applied.
    public var packSize: Int
    /// The inventory position: on hand + incoming - reserved (what the thresholds are compared with).
    public var position: Int64

    public init(productID: String, onHand: Int64, thresholds: StockThresholds, packSize: Int, position: Int64? = nil) {
        self.productID = productID
        self.onHand = onHand
        self.thresholds = thresholds
        self.packSize = packSize
        self.position = position ?? onHand
    }
}

/// Stock of a product held by a store above that store's own stored order-up-to level: a possible transfer source.
/// `quantity` is what the store has available (on hand less reserved).
public struct ExcessStock: Sendable, Equatable {
    public var productID: String
    public var storeID: String
    public var quantity: Int64
    public var orderUpTo: Double

    public init(productID: String, storeID: String, quantity: Int64, orderUpTo: Double) {
        self.productID = productID
        self.storeID = storeID
        self.quantity = quantity
        self.orderUpTo = orderUpTo
    }

    /// Units above the order-up-to level (whole units: the level rounded up).
    public var excess: Int64 { quantity - Int64(orderUpTo.rounded(.up)) }
}

/// Sizes that keep the statements of the replenishment reads fixed texts (see `AuditQuery.sql`).
public enum ReplenishmentQuery {
    /// `excessStock` takes exactly this many product ids (fewer are padded by repeating the last): one statement text
    /// whatever the page size, and a page of `limit` items costs `limit / excessWidth` rounded up such queries.
    public static let excessWidth = 100

    /// `ids` padded to `excessWidth` by repeating its last element.
    public static func padded(_ ids: [String]) -> [String] {
        precondition(!ids.isEmpty && ids.count <= excessWidth)
        return ids + Array(repeating: ids[ids.count - 1], count: excessWidth - ids.count)
    }

    /// `?, ?, ..., ?`: the placeholders of the padded list.
    public static let placeholders = Array(repeating: "?", count: excessWidth).joined(separator: ", ")
}

/// An API key as stored: never the key itself, only its SHA-256.
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: Role
    public var stores: [String]
    public var keyHash: String
    public var createdAtMillis: Int64
    public var revokedAtMillis: Int64?

    public init(id: String, name: String, role: Role, stores: [String], keyHash: String, createdAtMillis: Int64, revokedAtMillis: Int64? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.stores = stores
        self.keyHash = keyHash
        self.createdAtMillis = createdAtMillis
        self.revokedAtMillis = revokedAtMillis
    }

    public var principal: Principal { Principal(keyID: id, name: name, role: role, stores: Set(stores)) }
}

/// An event waiting in the outbox, written in the same transaction as the change it describes: its place in the
/// outbox and the event itself (a movement's payload rendered only when asked: see `OutboundEvent.payload`).
public struct OutboxEntry: Sendable, Equatable {
    public var sequence: Int64
    /// The event as the relay hands it to a publisher.
    public var outbound: OutboundEvent

    public var topic: String { outbound.topic }
    public var key: String { outbound.key }
    public var eventID: String { outbound.id }
    public var payload: String { outbound.payload }
    public var movement: Movement? { outbound.movement }

    public init(sequence: Int64, topic: String, key: String, eventID: String, payload: String, movement: Movement? = nil) {
        self.sequence = sequence
        outbound = OutboundEvent(topic: topic, key: key, id: eventID, payload: payload, movement: movement)
    }

    /// A movement's event, its payload rendered only when asked.
    public init(sequence: Int64, topic: String, key: String, eventID: String, movement: Movement) {
        self.sequence = sequence
        outbound = OutboundEvent(topic: topic, key: key, id: eventID, movement: movement)
    }
}

/// Everything a storage engine offers, one protocol per use (see `Storage/`). Services take the narrow protocol they
/// use; the engines (`SQLiteStockStore`, `MySQLStockStore`) conform to all of them, and the wiring holds this.
public protocol StockStore: LedgerStore, CatalogStore, APIKeyStore, OutboxStore, IntelligenceStore, AlertStore, EvaluationBatchStore,
    OverviewStore, WebhookStore, StorageMaintenance {}

/// Scopes of idempotency records.
public enum IdempotencyScope {
    /// Kafka commands are idempotent by their `id` within `kafka:<topic>`: a scope that does not change with the
    /// consumer group's name (a renamed group replays the topic; its commands must not apply twice).
    public static let commandPrefix = "kafka:"

    public static func commands(topic: String) -> String { commandPrefix + topic }
}
