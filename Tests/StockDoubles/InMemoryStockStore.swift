public import BazaarCore
public import BazaarDomain
public import Synchronization

/// What `InMemoryStockStore.applyInOrder` was given, a transaction at a time.
public final class TransactionLog: Sendable {
    public let sizes = Mutex<[Int]>([])
    public init() {}
}

/// The levels a replica answers while it trails the primary, by pair (a pair it holds none of: storage answers).
public final class TrailingReplica: Sendable {
    public let answers = Mutex<[StockKey: StockLevel]>([:])
    public init() {}

    public func answers(_ level: StockLevel, for storeID: String, _ productID: String) {
        answers.withLock { $0[StockKey(storeID: storeID, productID: productID)] = level }
    }
}

/// `StockService`'s storage (`StockService.Storage`: the ledger, the catalog, alerts) on `InMemoryLedgerStore`, with
/// faults to inject: `refuses` plays a database that refuses a request as a whole (a value it cannot store): the transaction fails,
/// for every request in it, with `DatabaseRefusal`; `unreachable` plays the database going away when a transaction
/// holds such a request (after `refuses`): it fails, for every request in it, with `StorageUnavailable`.
public struct InMemoryStockStore: StockService.Storage {
    public struct DatabaseRefusal: Error, Equatable { public init() {} }

    public let memory: InMemoryLedgerStore
    public var refuses: @Sendable (WriteRequest) -> Bool = { _ in false }
    public var unreachable: @Sendable (WriteRequest) -> Bool = { _ in false }
    public var replica = TrailingReplica()
    /// The number of requests in each `applyInOrder` transaction, in the order they were tried.
    public var transactions = TransactionLog()
    /// Product ids whose lookup finds the database away (`StorageUnavailable`): a catalog check that fails.
    public var productLookupAway: @Sendable (String) -> Bool = { _ in false }

    public init(_ memory: InMemoryLedgerStore = InMemoryLedgerStore(), refuses: @escaping @Sendable (WriteRequest) -> Bool = { _ in false },
         unreachable: @escaping @Sendable (WriteRequest) -> Bool = { _ in false }, replica: TrailingReplica = TrailingReplica()) {
        self.memory = memory
        self.refuses = refuses
        self.unreachable = unreachable
        self.replica = replica
    }

    // Ledger
    public func apply(_ request: WriteRequest) async throws -> WriteReceipt {
        if refuses(request) { throw DatabaseRefusal() }
        return try await memory.apply(request)
    }
    public func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>] {
        transactions.sizes.withLock { $0.append(requests.count) }
        if requests.contains(where: refuses) { return requests.map { _ in .failure(DatabaseRefusal()) } }
        if requests.contains(where: unreachable) { return requests.map { _ in .failure(StorageUnavailable("the database went away")) } }
        return await memory.applyInOrder(requests)
    }
    public func level(storeID: String, productID: String) async throws -> StockLevel? {
        if let trailing = replica.answers.withLock({ $0[StockKey(storeID: storeID, productID: productID)] }) { return trailing }
        return try await memory.level(storeID: storeID, productID: productID)
    }
    public func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        try await memory.levels(storeID: storeID, afterProductID: afterProductID, limit: limit)
    }
    public func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        try await memory.levels(productID: productID, afterStoreID: afterStoreID, limit: limit)
    }
    public func auditLog(_ query: AuditQuery) async throws -> [Movement] { try await memory.auditLog(query) }
    public func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] { try await memory.movements(afterSequence: afterSequence, limit: limit) }
    public func replay(_ claim: IdempotencyClaim) async throws -> WriteReceipt? { try await memory.replay(claim) }
    public func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64) {
        try await memory.ledgerTotals(storeID: storeID, productID: productID)
    }

    // Catalog
    public func upsertStore(_ store: Store) async throws -> Bool { try await memory.upsertStore(store) }
    public func store(id: String) async throws -> Store? { try await memory.store(id: id) }
    public func stores(afterID: String?, limit: Int) async throws -> [Store] { try await memory.stores(afterID: afterID, limit: limit) }
    public func upsertProduct(_ product: Product) async throws -> Bool { try await memory.upsertProduct(product) }
    public func product(id: String) async throws -> Product? {
        if productLookupAway(id) { throw StorageUnavailable("the database went away") }
        return try await memory.product(id: id)
    }
    public func products(afterID: String?, limit: Int) async throws -> [Product] { try await memory.products(afterID: afterID, limit: limit) }
    public func allStoreIDs() async throws -> [String] { try await memory.allStoreIDs() }
    public func allProductIDs() async throws -> [String] { try await memory.allProductIDs() }

    // Alerts
    public func activeAlerts(storeID: String, productID: String) async throws -> [Alert] { try await memory.activeAlerts(storeID: storeID, productID: productID) }
    public func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert] { try await memory.recordAlerts(inserted: inserted, changed: changed) }
    public func alert(id: String) async throws -> Alert? { try await memory.alert(id: id) }
    public func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?, limit: Int) async throws -> [Alert] {
        try await memory.alerts(storeID: storeID, productID: productID, kind: kind, status: status, beforeSequence: beforeSequence, limit: limit)
    }
}
