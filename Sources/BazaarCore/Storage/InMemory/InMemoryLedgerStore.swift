public import BazaarDomain

/// A storage engine in memory, for testing services without a database: the ledger (`LedgerStore`), the catalog
/// (`CatalogStore`), alerts (`AlertStore`), the outbox (`OutboxStore`) and the housekeeping of idempotency records
/// (`StorageMaintenance`). Nothing survives the process; it is not a production engine.
///
/// Writes run the engines' own algorithm, `LedgerWrite.apply`, against `InMemoryLedgerTransaction`: the rules of a
/// write (refusals, idempotency replays, versions, ledger rows, outbox events) are not copied here. One lock
/// serialises every write and read, as SQLite's single writer does: a write is atomic, a refused request (or a
/// refused request of `applyInOrder`) leaves nothing, and no update is lost. The storage contract suite
/// (`StorageContractTests`) runs its ledger, catalog and alert cases on this store beside SQLite and MariaDB: the
/// proof that it answers as they do.
public final class InMemoryLedgerStore: LedgerStore, Sendable {
    let tables = Locked(InMemoryTables())
    let clock: WallClock

    public init(clock: WallClock = .system) { self.clock = clock }

    public func apply(_ request: WriteRequest) async throws -> WriteReceipt {
        try commit([request])[0].get()
    }

    public func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>] {
        commit(requests)
    }

    /// One transaction for all `requests`, in order, like an engine's group commit: a `DomainError` undoes its
    /// request only; any other error undoes the whole transaction and fails every request.
    private func commit(_ requests: [WriteRequest]) -> [Result<WriteReceipt, any Error>] {
        tables.withLock { tables in
            // Read under the lock, as the engines' writers do: commit times never go back along the ledger.
            let now = clock.nowMillis()
            // The tables are moved into the transaction and back, never copied (a copy would cost the whole store
            // on the first change).
            var tx = InMemoryLedgerTransaction(tables: InMemoryTables())
            swap(&tx.tables, &tables)
            defer { swap(&tx.tables, &tables) }
            var results: [Result<WriteReceipt, any Error>] = []
            results.reserveCapacity(requests.count)
            for request in requests {
                let savepoint = tx.savepoint
                do {
                    results.append(.success(try LedgerWrite.apply(request, in: &tx, nowMillis: now)))
                } catch let refusal as DomainError {
                    tx.rollback(to: savepoint)
                    results.append(.failure(refusal))
                } catch {
                    tx.rollback(to: 0)
                    return requests.map { _ in .failure(error) }
                }
            }
            return results
        }
    }

    public func replay(_ claim: IdempotencyClaim) async throws -> WriteReceipt? {
        try tables.withLock { tables in
            var tx = InMemoryLedgerTransaction(tables: InMemoryTables())
            swap(&tx.tables, &tables)
            defer { swap(&tx.tables, &tables) }
            return try LedgerWrite.replay(claim, in: &tx)
        }
    }

    public func level(storeID: String, productID: String) async throws -> StockLevel? {
        tables.withLock { $0.levels[StockKey(storeID: storeID, productID: productID)] }
    }

    public func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        rows { key in key.storeID == storeID && InMemoryTables.follows(key.productID, afterProductID) }
            .sorted { InMemoryTables.precedes($0.productID, $1.productID) }.prefix(max(0, limit)).map { $0 }
    }

    public func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        rows { key in key.productID == productID && InMemoryTables.follows(key.storeID, afterStoreID) }
            .sorted { InMemoryTables.precedes($0.storeID, $1.storeID) }.prefix(max(0, limit)).map { $0 }
    }

    private func rows(where included: (StockKey) -> Bool) -> [StockRow] {
        tables.withLock { tables in
            tables.levels.compactMap { key, level in
                included(key) ? StockRow(storeID: key.storeID, productID: key.productID, level: level) : nil
            }
        }
    }

    /// Newest first, the filters of `AuditQuery.conditions` (a time window on `at`, half-open; the cursor strict).
    public func auditLog(_ query: AuditQuery) async throws -> [Movement] {
        tables.withLock { tables in
            var page: [Movement] = []
            for movement in tables.ledger.reversed() where page.count < query.limit {
                if query.matches(movement) { page.append(movement) }
            }
            return page
        }
    }

    public func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] {
        tables.withLock { tables in
            // Sequence n is at index n - 1.
            let start = Int(clamping: max(0, min(afterSequence, Int64(tables.ledger.count))))
            return Array(tables.ledger[start...].prefix(max(0, limit)))
        }
    }

    /// Counted from the ledger rows, not from the level: the check of invariant 1.
    public func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64) {
        tables.withLock { tables in
            tables.ledger.reduce(into: (sum: Int64(0), rows: Int64(0))) { totals, movement in
                guard movement.storeID == storeID && movement.productID == productID else { return }
                totals.sum += movement.delta
                totals.rows += 1
            }
        }
    }
}

extension AuditQuery {
    /// Whether a ledger row passes these filters: the conditions `conditions` writes in SQL for the engines.
    func matches(_ movement: Movement) -> Bool {
        if let storeID, movement.storeID != storeID { return false }
        if let productID, movement.productID != productID { return false }
        if let actor, movement.actor != actor { return false }
        if let reason, movement.reason != reason { return false }
        if let sinceMillis, movement.atMillis < sinceMillis { return false }
        if let untilMillis, movement.atMillis >= untilMillis { return false }
        if let beforeSequence, movement.sequence >= beforeSequence { return false }
        return true
    }
}
