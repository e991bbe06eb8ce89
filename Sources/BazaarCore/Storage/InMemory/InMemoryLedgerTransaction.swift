import BazaarDomain

/// The tables of `InMemoryLedgerStore`: what the engines keep in `stock_levels`, `stock_movements`,
/// `idempotency_keys`, `outbox`, `stores`, `products`, `alerts` and `event_outbox`.
struct InMemoryTables: Sendable {
    struct IdempotencyID: Hashable, Sendable {
        var scope: String
        var key: String
    }

    struct IdempotencyRecord: Sendable {
        var fingerprint: String
        var movementIDs: [String]
        var createdAtMillis: Int64
    }

    var levels: [StockKey: StockLevel] = [:]
    /// The ledger in sequence order: the row of sequence `n` is at index `n - 1`.
    var ledger: [Movement] = []
    /// Index in `ledger` of each movement id.
    var ledgerIndex: [String: Int] = [:]
    var idempotency: [IdempotencyID: IdempotencyRecord] = [:]
    /// Sequences of the movements whose event is not yet published, ascending.
    var outbox: [Int64] = []

    var stores: [String: Store] = [:]
    var products: [String: Product] = [:]
    /// Alerts in sequence order.
    var alerts: [Alert] = []
    var eventOutbox: [OutboxEntry] = []
    var nextEventSequence: Int64 = 1

    /// Identifiers in the engines' order: by bytes (SQLite's `BINARY`, MySQL's `utf8mb4_bin`), not Swift's
    /// `String` order (Unicode canonical equivalence).
    static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// `id > after` in the engines' order (everything when `after` is nil).
    static func follows(_ id: String, _ after: String?) -> Bool { after.map { precedes($0, id) } ?? true }
}

/// What `InMemoryLedgerStore` refuses as an engine would: a broken reference or a duplicate primary key.
/// Not a `DomainError`, so, like a database error, it fails the whole transaction.
public struct InMemoryStoreError: Error, Equatable, CustomStringConvertible {
    public var description: String
}

/// `LedgerTransaction` over the in-memory tables, for `LedgerWrite.apply`: the same algorithm the engines run,
/// against dictionaries. Every change is journalled, so a refused request is undone by position (`rollback(to:)`),
/// as a savepoint would on SQLite.
struct InMemoryLedgerTransaction: LedgerTransaction {
    private enum Undo {
        case level(StockKey, previous: StockLevel?)
        case movement
        case event
        case idempotency(InMemoryTables.IdempotencyID)
    }

    /// The store's tables, moved in for the transaction (never copied: see `InMemoryLedgerStore.commit`).
    var tables: InMemoryTables
    private var undo: [Undo] = []

    init(tables: InMemoryTables) { self.tables = tables }

    /// A position to roll back to.
    var savepoint: Int { undo.count }

    /// Undoes every change made after `savepoint`, newest first.
    mutating func rollback(to savepoint: Int) {
        while undo.count > savepoint {
            switch undo.removeLast() {
            case .level(let key, let previous): tables.levels[key] = previous
            case .movement:
                let movement = tables.ledger.removeLast()
                tables.ledgerIndex[movement.movementID] = nil
            case .event: tables.outbox.removeLast()
            case .idempotency(let id): tables.idempotency[id] = nil
            }
        }
    }

    func idempotencyRecord(scope: String, key: String) throws -> (fingerprint: String, movementIDs: [String])? {
        tables.idempotency[.init(scope: scope, key: key)].map { ($0.fingerprint, $0.movementIDs) }
    }

    mutating func saveIdempotencyRecord(_ claim: IdempotencyClaim, movementIDs: [String], atMillis: Int64) throws {
        let id = InMemoryTables.IdempotencyID(scope: claim.scope, key: claim.key)
        guard tables.idempotency[id] == nil else {
            throw InMemoryStoreError(description: "duplicate idempotency key \(claim.key) in scope \(claim.scope)")
        }
        tables.idempotency[id] = .init(fingerprint: claim.fingerprint, movementIDs: movementIDs, createdAtMillis: atMillis)
        undo.append(.idempotency(id))
    }

    func movements(ids: [String]) throws -> [Movement] {
        try ids.map { id in
            guard let index = tables.ledgerIndex[id] else {
                throw InMemoryStoreError(description: "idempotency record names missing movement \(id)")
            }
            return tables.ledger[index]
        }
    }

    /// The transaction holds the store's lock: a plain read is the locked read.
    func lockLevel(storeID: String, productID: String) throws -> StockLevel? {
        tables.levels[StockKey(storeID: storeID, productID: productID)]
    }

    mutating func writeLevel(storeID: String, productID: String, level: StockLevel, isNew: Bool) throws {
        let key = StockKey(storeID: storeID, productID: productID)
        let previous = tables.levels.updateValue(level, forKey: key)
        guard (previous == nil) == isNew else {
            tables.levels[key] = previous
            throw InMemoryStoreError(description: isNew ? "stock row \(storeID)/\(productID) already exists" : "no stock row \(storeID)/\(productID)")
        }
        undo.append(.level(key, previous: previous))
    }

    mutating func appendMovement(_ movement: Movement) throws -> Int64 {
        guard tables.ledgerIndex[movement.movementID] == nil else {
            throw InMemoryStoreError(description: "duplicate movement id \(movement.movementID)")
        }
        var row = movement
        row.sequence = Int64(tables.ledger.count + 1)
        tables.ledgerIndex[row.movementID] = tables.ledger.count
        tables.ledger.append(row)
        undo.append(.movement)
        return row.sequence
    }

    mutating func appendMovementEvent(_ movement: Movement) throws {
        tables.outbox.append(movement.sequence)
        undo.append(.event)
    }
}
