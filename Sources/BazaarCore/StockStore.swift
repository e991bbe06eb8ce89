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

/// An event waiting in the outbox, written in the same transaction as the change it describes.
public struct OutboxEntry: Sendable, Equatable {
    public var sequence: Int64
    public var topic: String
    public var key: String
    public var eventID: String
    public var payload: String
    public var movement: Movement?

    public init(sequence: Int64, topic: String, key: String, eventID: String, payload: String, movement: Movement? = nil) {
        self.sequence = sequence
        self.topic = topic
        self.key = key
        self.eventID = eventID
        self.payload = payload
        self.movement = movement
    }
}

/// Durable storage of the catalog, stock levels, the ledger, idempotency records, API keys and the outbox.
///
/// Implementations do I/O only; the rules of a write live in `LedgerWrite`, shared by all of them.
public protocol StockStore: Sendable {
    /// Applies pending schema migrations; safe to call on every start.
    func migrate() async throws

    /// Applies a write atomically (group-committed with concurrent writes); throws `DomainError` for a refusal.
    func apply(_ request: WriteRequest) async throws -> WriteReceipt

    /// Applies requests one after the other, in this order, in one transaction: each gets its own outcome, and a
    /// refused one (`DomainError`) leaves nothing behind. An error of the transaction itself fails every request.
    /// For sources whose order matters, such as a Kafka partition.
    func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>]

    func level(storeID: String, productID: String) async throws -> StockLevel?
    func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow]
    func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow]
    /// Newest first.
    func auditLog(_ query: AuditQuery) async throws -> [Movement]
    /// Oldest first, strictly after `afterSequence`.
    func movements(afterSequence: Int64, limit: Int) async throws -> [Movement]
    /// The sum of ledger deltas and the number of ledger rows (invariant 1 check).
    func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64)

    /// Returns true when the store was created, false when updated.
    func upsertStore(_ store: Store) async throws -> Bool
    func store(id: String) async throws -> Store?
    func stores(afterID: String?, limit: Int) async throws -> [Store]
    func upsertProduct(_ product: Product) async throws -> Bool
    func product(id: String) async throws -> Product?
    func products(afterID: String?, limit: Int) async throws -> [Product]
    func allStoreIDs() async throws -> [String]
    func allProductIDs() async throws -> [String]

    func insertAPIKey(_ record: APIKeyRecord) async throws
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func apiKeys() async throws -> [APIKeyRecord]
    /// Returns false when there is no such active key.
    func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool
    func hasActiveAdminKey() async throws -> Bool

    /// Whether this node may relay the outbox now. One node at a time relays a shared database's outbox, so that two
    /// nodes never publish the same batch and one store's events keep their order; another node takes over when the
    /// holder goes away. Called before every drain (cheap when already held).
    func holdRelayLease() async throws -> Bool
    /// The oldest unpublished events, in commit order: an event's `sequence` is its movement's ledger sequence, and
    /// ledger sequences are handed out in commit order on every engine (see `LedgerTransaction`).
    func outboxBatch(limit: Int) async throws -> [OutboxEntry]
    /// Removes exactly these published events. Never a range: a row that commits late below a published one would be
    /// deleted unpublished (auto-increment values are not commit order).
    func deleteOutbox(sequences: [Int64]) async throws
    func outboxDepth() async throws -> Int

    /// Events other than movements (alert changes), oldest first, and their removal once published.
    func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry]
    /// Removes exactly these published events (alert ids are auto-increment, not commit order).
    func deleteEventOutbox(sequences: [Int64]) async throws

    // MARK: Stock intelligence

    /// Movements of one store x product that happened at or after `sinceMillis`, in ledger order.
    func movements(storeID: String, productID: String, sinceMillis: Int64) async throws -> [Movement]
    func thresholds(storeID: String, productID: String) async throws -> StockThresholds?
    func saveThresholds(_ thresholds: StockThresholds, storeID: String, productID: String) async throws
    /// The store's items at or below their stored reorder point and short of their stored order-up-to level, in
    /// product id order after `afterProductID`, at most `limit`: one query, from what the engine stored (nothing is
    /// computed). Read where listings are read (a replica on MySQL).
    func replenishmentItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [ReplenishmentItem]
    /// Stock above its own stored order-up-to level, of these products (1 to `ReplenishmentQuery.excessWidth`
    /// ids), in every store but `excludingStoreID`: one query.
    func excessStock(productIDs: [String], excludingStoreID: String) async throws -> [ExcessStock]
    /// How many of the store's stock rows have no stored thresholds yet (the engine has not evaluated them): one query.
    func itemsWithoutThresholds(storeID: String) async throws -> Int
    /// Counts of each of these stores' items and active alerts (1 to `OverviewQuery.maxStores` ids; stores with no
    /// stock row and no active alert may be missing): one aggregate statement, read where listings are read.
    func storeCounts(storeIDs: [String]) async throws -> [StoreCounts]
    /// A page of the store's stock rows in product id order after `afterProductID`, at most `limit`, with the product's
    /// name, the stored thresholds and the number of active alerts of each: one query, read where listings are read.
    func storeItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [StoreItem]
    func replenishmentOverride(storeID: String, productID: String) async throws -> ReplenishmentOverride?
    func saveReplenishmentOverride(_ override: ReplenishmentOverride, storeID: String, productID: String) async throws
    /// Open or acknowledged alerts of one store x product.
    func activeAlerts(storeID: String, productID: String) async throws -> [Alert]
    /// Inserts new alerts (skipping any whose condition already has an active alert) and saves changed ones, with
    /// one outbox event per change, in one transaction. Returns the alerts actually inserted or changed.
    func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert]
    func alert(id: String) async throws -> Alert?
    /// Newest first; `beforeSequence` is the page cursor.
    func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?, limit: Int) async throws -> [Alert]

    // MARK: Webhooks

    func insertWebhook(_ webhook: Webhook) async throws
    func webhooks() async throws -> [Webhook]
    /// Returns false when there is no such webhook.
    func deleteWebhook(id: String, atMillis: Int64) async throws -> Bool
    /// Queues an event for every given webhook (once per webhook and event id).
    func enqueueDeliveries(webhookIDs: [String], eventID: String, payload: String, atMillis: Int64) async throws
    func dueDeliveries(atMillis: Int64, limit: Int) async throws -> [WebhookDelivery]
    /// Logs an attempt and moves the delivery on: delivered, retried at `nextAttemptAtMillis`, or failed (nil).
    func recordAttempt(_ delivery: WebhookDelivery, atMillis: Int64, statusCode: Int?, error: String?, delivered: Bool,
                       nextAttemptAtMillis: Int64?) async throws
    func webhookAttempts(webhookID: String, limit: Int) async throws -> [WebhookAttempt]

    /// Forgets idempotency records older than the cut-off, and those of Kafka commands (scopes starting with
    /// `IdempotencyScope.commandPrefix`) older than their own cut-off; returns how many.
    func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int
    /// A trivial query, for readiness checks.
    func ping() async throws
    /// Releases connections and files.
    func close() async throws
}

/// An alert subscription: events of the listed stores (all when empty) are POSTed to `url`, signed with `secret`.
public struct Webhook: Sendable, Equatable {
    public var id: String
    public var url: String
    public var secret: String
    public var stores: [String]
    public var createdAtMillis: Int64

    public init(id: String, url: String, secret: String, stores: [String], createdAtMillis: Int64) {
        self.id = id
        self.url = url
        self.secret = secret
        self.stores = stores
        self.createdAtMillis = createdAtMillis
    }
}

public struct WebhookDelivery: Sendable, Equatable {
    public var sequence: Int64
    public var webhookID: String
    public var url: String
    public var secret: String
    public var eventID: String
    public var payload: String
    /// Attempts made so far.
    public var attempts: Int

    public init(sequence: Int64, webhookID: String, url: String, secret: String, eventID: String, payload: String, attempts: Int) {
        self.sequence = sequence
        self.webhookID = webhookID
        self.url = url
        self.secret = secret
        self.eventID = eventID
        self.payload = payload
        self.attempts = attempts
    }
}

public struct WebhookAttempt: Sendable, Equatable {
    public var eventID: String
    public var attempt: Int
    public var atMillis: Int64
    public var statusCode: Int?
    public var error: String?

    public init(eventID: String, attempt: Int, atMillis: Int64, statusCode: Int?, error: String?) {
        self.eventID = eventID
        self.attempt = attempt
        self.atMillis = atMillis
        self.statusCode = statusCode
        self.error = error
    }
}

/// Scopes of idempotency records.
public enum IdempotencyScope {
    /// Kafka commands are idempotent by their `id` within `kafka:<topic>`: a scope that does not change with the
    /// consumer group's name (a renamed group replays the topic; its commands must not apply twice).
    public static let commandPrefix = "kafka:"

    public static func commands(topic: String) -> String { commandPrefix + topic }
}
