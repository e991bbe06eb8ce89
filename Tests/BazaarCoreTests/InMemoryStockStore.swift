import BazaarCore
import BazaarDomain

/// `StockService` holds `any StockStore`; its write and read paths use only the ledger, the catalog and alerts
/// (`OverReserved`), which `InMemoryLedgerStore` keeps. This wrapper completes the protocol: every other room
/// throws `NotKeptInMemory`, so a test that reached one would fail loudly. It can go once the service takes the
/// narrow protocols it uses (issue 13, item 2).
///
/// `refuses` plays a database that refuses a request as a whole (a value it cannot store): the transaction fails,
/// for every request in it, with `DatabaseRefusal`.
struct InMemoryStockStore: StockStore {
    struct NotKeptInMemory: Error { var requirement: String }
    struct DatabaseRefusal: Error, Equatable {}

    let memory: InMemoryLedgerStore
    var refuses: @Sendable (WriteRequest) -> Bool = { _ in false }

    init(_ memory: InMemoryLedgerStore = InMemoryLedgerStore(), refuses: @escaping @Sendable (WriteRequest) -> Bool = { _ in false }) {
        self.memory = memory
        self.refuses = refuses
    }

    // Ledger
    func apply(_ request: WriteRequest) async throws -> WriteReceipt {
        if refuses(request) { throw DatabaseRefusal() }
        return try await memory.apply(request)
    }
    func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>] {
        if requests.contains(where: refuses) { return requests.map { _ in .failure(DatabaseRefusal()) } }
        return await memory.applyInOrder(requests)
    }
    func level(storeID: String, productID: String) async throws -> StockLevel? { try await memory.level(storeID: storeID, productID: productID) }
    func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        try await memory.levels(storeID: storeID, afterProductID: afterProductID, limit: limit)
    }
    func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        try await memory.levels(productID: productID, afterStoreID: afterStoreID, limit: limit)
    }
    func auditLog(_ query: AuditQuery) async throws -> [Movement] { try await memory.auditLog(query) }
    func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] { try await memory.movements(afterSequence: afterSequence, limit: limit) }
    func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64) {
        try await memory.ledgerTotals(storeID: storeID, productID: productID)
    }

    // Catalog
    func upsertStore(_ store: Store) async throws -> Bool { try await memory.upsertStore(store) }
    func store(id: String) async throws -> Store? { try await memory.store(id: id) }
    func stores(afterID: String?, limit: Int) async throws -> [Store] { try await memory.stores(afterID: afterID, limit: limit) }
    func upsertProduct(_ product: Product) async throws -> Bool { try await memory.upsertProduct(product) }
    func product(id: String) async throws -> Product? { try await memory.product(id: id) }
    func products(afterID: String?, limit: Int) async throws -> [Product] { try await memory.products(afterID: afterID, limit: limit) }
    func allStoreIDs() async throws -> [String] { try await memory.allStoreIDs() }
    func allProductIDs() async throws -> [String] { try await memory.allProductIDs() }

    // Alerts
    func activeAlerts(storeID: String, productID: String) async throws -> [Alert] { try await memory.activeAlerts(storeID: storeID, productID: productID) }
    func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert] { try await memory.recordAlerts(inserted: inserted, changed: changed) }
    func alert(id: String) async throws -> Alert? { try await memory.alert(id: id) }
    func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?, limit: Int) async throws -> [Alert] {
        try await memory.alerts(storeID: storeID, productID: productID, kind: kind, status: status, beforeSequence: beforeSequence, limit: limit)
    }

    // Outbox and maintenance
    func holdRelayLease() async throws -> Bool { try await memory.holdRelayLease() }
    func outboxBatch(limit: Int) async throws -> [OutboxEntry] { try await memory.outboxBatch(limit: limit) }
    func deleteOutbox(sequences: [Int64]) async throws { try await memory.deleteOutbox(sequences: sequences) }
    func outboxDepth() async throws -> Int { try await memory.outboxDepth() }
    func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry] { try await memory.eventOutboxBatch(limit: limit) }
    func deleteEventOutbox(sequences: [Int64]) async throws { try await memory.deleteEventOutbox(sequences: sequences) }
    func migrate() async throws {}
    func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int {
        try await memory.purgeIdempotency(olderThanMillis: olderThanMillis, commandsOlderThanMillis: commandsOlderThanMillis)
    }
    func ping() async throws {}
    func close() async throws {}

    // Not kept in memory
    func insertAPIKey(_ record: APIKeyRecord) async throws { throw NotKeptInMemory(requirement: #function) }
    func apiKey(hash: String) async throws -> APIKeyRecord? { throw NotKeptInMemory(requirement: #function) }
    func apiKeys() async throws -> [APIKeyRecord] { throw NotKeptInMemory(requirement: #function) }
    func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool { throw NotKeptInMemory(requirement: #function) }
    func hasActiveAdminKey() async throws -> Bool { throw NotKeptInMemory(requirement: #function) }
    func movements(storeID: String, productID: String, sinceMillis: Int64) async throws -> [Movement] { throw NotKeptInMemory(requirement: #function) }
    func thresholds(storeID: String, productID: String) async throws -> StockThresholds? { throw NotKeptInMemory(requirement: #function) }
    func saveThresholds(_ thresholds: StockThresholds, storeID: String, productID: String) async throws { throw NotKeptInMemory(requirement: #function) }
    func replenishmentOverride(storeID: String, productID: String) async throws -> ReplenishmentOverride? {
        throw NotKeptInMemory(requirement: #function)
    }
    func saveReplenishmentOverride(_ override: ReplenishmentOverride, storeID: String, productID: String) async throws {
        throw NotKeptInMemory(requirement: #function)
    }
    func replenishmentItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [ReplenishmentItem] {
        throw NotKeptInMemory(requirement: #function)
    }
    func excessStock(productIDs: [String], excludingStoreID: String) async throws -> [ExcessStock] { throw NotKeptInMemory(requirement: #function) }
    func itemsWithoutThresholds(storeID: String) async throws -> Int { throw NotKeptInMemory(requirement: #function) }
    func storeCounts(storeIDs: [String]) async throws -> [StoreCounts] { throw NotKeptInMemory(requirement: #function) }
    func storeItems(storeID: String, afterProductID: String?, limit: Int) async throws -> [StoreItem] { throw NotKeptInMemory(requirement: #function) }
    func insertWebhook(_ webhook: Webhook) async throws { throw NotKeptInMemory(requirement: #function) }
    func webhooks() async throws -> [Webhook] { throw NotKeptInMemory(requirement: #function) }
    func deleteWebhook(id: String, atMillis: Int64) async throws -> Bool { throw NotKeptInMemory(requirement: #function) }
    func enqueueDeliveries(webhookIDs: [String], eventID: String, payload: String, atMillis: Int64) async throws {
        throw NotKeptInMemory(requirement: #function)
    }
    func dueDeliveries(atMillis: Int64, limit: Int) async throws -> [WebhookDelivery] { throw NotKeptInMemory(requirement: #function) }
    func recordAttempt(_ delivery: WebhookDelivery, atMillis: Int64, statusCode: Int?, error: String?, delivered: Bool,
                       nextAttemptAtMillis: Int64?) async throws {
        throw NotKeptInMemory(requirement: #function)
    }
    func webhookAttempts(webhookID: String, limit: Int) async throws -> [WebhookAttempt] { throw NotKeptInMemory(requirement: #function) }
}
