public import BazaarDomain

/// The use cases of stock: writes (single, batch, transfer) and reads, over the storage, cache and outbox.
public final class StockService: Sendable {
    public static let maxBatchSize = 100

    /// What the stock use cases need of storage: the ledger, the catalog (behind `catalog`), and alerts (a write that
    /// takes `available` below zero opens `over_reserved`).
    public typealias Storage = LedgerStore & CatalogStore & AlertStore

    public let store: any Storage
    public let cache: any StockCache
    public let catalog: CatalogIndex
    let outboxSignal: OutboxSignal

    public init(store: any Storage, cache: any StockCache, catalog: CatalogIndex, outboxSignal: OutboxSignal) {
        self.store = store
        self.cache = cache
        self.catalog = catalog
        self.outboxSignal = outboxSignal
    }

    /// Applies commands atomically. `idempotencyKey` is scoped to the caller's API key (`scope`).
    public func write(
        _ commands: [MovementCommand], actor: String, idempotencyKey: String? = nil, scope: String
    ) async throws -> WriteReceipt {
        let receipt = try await store.apply(try await request(commands, actor: actor, idempotencyKey: idempotencyKey, scope: scope))
        await applied([receipt])
        return receipt
    }

    /// Applies the writes one after the other, in this order, in one transaction (several of
    /// `maxWritesPerTransaction` each for a longer run): what a Kafka partition's batch needs (the order of a store's
    /// commands is kept, and the batch costs one commit a transaction). Each write gets its own outcome; a refused
    /// one changes nothing. If a transaction itself fails for another reason than an unreachable database, its
    /// writes are retried one by one, so that one write the database refuses (a value it cannot store) does not
    /// fail its neighbours.
    public func writeInOrder(
        _ writes: [(commands: [MovementCommand], idempotencyKey: String?)], actor: String, scope: String
    ) async -> [Result<WriteReceipt, any Error>] {
        await writeInOrder(await checked(writes, actor: actor, scope: scope))
    }

    /// Writes checked for `writeInOrder` (each inside the catalog, its idempotency key well formed), and the
    /// refusals among them. Checking depends on no earlier write (and the catalog only grows), so a reader of
    /// batches checks the next batch while the one before it is written.
    public struct CheckedWrites: Sendable {
        fileprivate var outcomes: [Result<WriteReceipt, any Error>?]
        fileprivate var requests: [(index: Int, request: WriteRequest)]
    }

    public func checked(_ writes: [(commands: [MovementCommand], idempotencyKey: String?)], actor: String, scope: String) async -> CheckedWrites {
        var checked = CheckedWrites(outcomes: .init(repeating: nil, count: writes.count), requests: [])
        for (index, write) in writes.enumerated() {
            do {
                checked.requests.append((index, try await request(write.commands, actor: actor, idempotencyKey: write.idempotencyKey, scope: scope)))
            } catch {
                checked.outcomes[index] = .failure(error)
            }
        }
        return checked
    }

    /// The most writes `writeInOrder` puts in one transaction; a longer run goes in several, one after the other. A
    /// Kafka poll of one store's commands would otherwise be one transaction holding that store's rows (and every
    /// writer of them) for as long as it takes to write the whole poll.
    public static let maxWritesPerTransaction = 5_000

    /// `writeInOrder` of writes checked beforehand: the outcome of each, in the order they were given to `checked`.
    /// In transactions of at most `maxWritesPerTransaction`. Once the database is found away, by a transaction or
    /// by a write's check (a catalog lookup), the writes after that point are not tried (answered the same): a later
    /// write applied before an earlier one's retry would break the order.
    public func writeInOrder(_ checked: CheckedWrites) async -> [Result<WriteReceipt, any Error>] {
        var outcomes = checked.outcomes
        var requests = checked.requests
        if let away = outcomes.firstIndex(where: { Self.unavailable($0) != nil }), let error = Self.unavailable(outcomes[away]) {
            for (index, _) in requests where index > away { outcomes[index] = .failure(error) }
            requests.removeAll { $0.index > away }
        }
        if requests.isEmpty { return outcomes.map { $0 ?? .failure(GroupCommitError.missingResult) } }
        var away: (any Error)?
        for start in stride(from: 0, to: requests.count, by: Self.maxWritesPerTransaction) {
            let run = requests[start..<min(start + Self.maxWritesPerTransaction, requests.count)]
            let results: [Result<WriteReceipt, any Error>]
            if let away { results = run.map { _ in .failure(away) } } else { results = await applyInOrder(run.map(\.request)) }
            var receipts: [WriteReceipt] = []
            for ((index, _), result) in zip(run, results) {
                if case .success(let receipt) = result { receipts.append(receipt) }
                outcomes[index] = result
            }
            if let error = Self.unavailable(results.last) { away = error }
            // Each transaction's levels reach the cache (and its events the relay) as it commits, not with the last.
            await applied(receipts)
        }
        return outcomes.map { $0 ?? .failure(GroupCommitError.missingResult) }
    }

    /// One transaction for `requests`, in their order; if it fails as a whole for another reason than an unreachable
    /// database, one by one, so that a write the database refuses does not fail its neighbours.
    private func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>] {
        let results = await store.applyInOrder(requests)
        guard requests.count > 1, results.allSatisfy({ Self.failedAsAWhole($0) }), case .failure(let error) = results.first,
              !(error is StorageUnavailable) else { return results }
        var oneByOne: [Result<WriteReceipt, any Error>] = []
        for request in requests {
            // Once the database is away, the rest wait too: a later one applied before an earlier one's retry
            // would break the order.
            if let error = Self.unavailable(oneByOne.last) {
                oneByOne.append(.failure(error))
                continue
            }
            oneByOne.append(contentsOf: await store.applyInOrder([request]))
        }
        return oneByOne
    }

    /// The error of an outcome that found the database away, if it is one.
    private static func unavailable(_ outcome: Result<WriteReceipt, any Error>?) -> (any Error)? {
        if case .failure(let error)? = outcome, error is StorageUnavailable { error } else { nil }
    }

    private static func failedAsAWhole(_ result: Result<WriteReceipt, any Error>) -> Bool {
        if case .failure(let error) = result { return !(error is DomainError) }
        return false
    }

    /// A checked write request: every command inside the catalog, the idempotency key well formed.
    private func request(_ commands: [MovementCommand], actor: String, idempotencyKey: String?, scope: String) async throws -> WriteRequest {
        try await requireCatalog(commands, limit: Self.maxBatchSize)
        let claim = try idempotencyKey.map { key in
            IdempotencyClaim(scope: scope, key: try Self.validateIdempotencyKey(key), fingerprint: Self.fingerprint(commands))
        }
        return WriteRequest(commands: commands, actor: actor, idempotency: claim)
    }

    /// Each command inside the catalog, and between one and `limit` of them.
    func requireCatalog(_ commands: [MovementCommand], limit: Int) async throws {
        guard !commands.isEmpty else { throw DomainError.invalid(field: "movements", message: "must hold at least one movement") }
        guard commands.count <= limit else {
            throw DomainError.invalid(field: "movements", message: "must hold at most \(limit) movements (got \(commands.count))")
        }
        for command in commands {
            try await requireCatalog(storeID: command.storeID, productID: command.productID)
        }
    }

    /// After a commit: the cache learns the new levels, all of them in one offer (with their inventory states: a
    /// replay, which has none, offers nothing), the outbox relay wakes up, and a fact that took `available` below zero
    /// opens `over_reserved`.
    func applied(_ receipts: [WriteReceipt]) async {
        // A replay answers a write committed earlier, whose levels may never have reached the cache (its answer was
        // lost in the commit's round trip, and its writer retried): the cache stops answering anything older than
        // the replayed movements. A replay carries no inventory states, so it offers nothing.
        var replayed: [StockKey: Int64] = [:]  // each key once, at its newest replayed version (a redelivered Kafka batch)
        for receipt in receipts where receipt.replayed {
            for movement in receipt.movements {
                let key = StockKey(storeID: movement.storeID, productID: movement.productID)
                replayed[key] = max(replayed[key] ?? 0, movement.version)
            }
        }
        for (key, version) in replayed {
            await cache.invalidate(key, minimumVersion: version, minimumRevision: version)
        }
        let fresh = receipts.filter { !$0.replayed }
        guard !fresh.isEmpty else { return }
        var levels: [(key: StockKey, level: StockLevel)] = []
        levels.reserveCapacity(fresh.reduce(0) { $0 + $1.levels.count })
        for receipt in fresh {
            for (movement, level) in zip(receipt.movements, receipt.levels) {
                levels.append((StockKey(storeID: movement.storeID, productID: movement.productID), level))
            }
        }
        await cache.offer(levels)
        outboxSignal.notify()
        for receipt in fresh {
            for movement in receipt.movements { BazaarMetrics.movementApplied(reason: movement.reason.rawValue) }
            await OverReserved.check(receipt, store: store)
        }
    }

    /// The current level when this process holds all `level` needs in memory: both ids in the catalog index and a
    /// level in the cache fresh enough to answer, with no consistency token to honour. Nil otherwise (`level` answers,
    /// asking whatever it must).
    public func levelInMemory(storeID: String, productID: String) -> StockLevel? {
        guard ConsistencyScope.current?.requested == nil, catalog.holds(storeID: storeID, productID: productID) else { return nil }
        return cache.levelInMemory(StockKey(storeID: storeID, productID: productID))
    }

    /// A read was answered with `levelInMemory`'s level: the cache counts its hit.
    public func answeredFromMemory() { cache.answeredFromMemory() }

    /// The current level: from the cache, else the database (filling the cache). 404 outside the catalog.
    public func level(storeID: String, productID: String) async throws -> StockLevel {
        try await requireCatalog(storeID: storeID, productID: productID)
        let key = StockKey(storeID: storeID, productID: productID)
        // A caller that sends a consistency token asked for at least its own write: storage answers that for sure.
        if ConsistencyScope.current?.requested == nil, let cached = await cache.get(key) { return cached }
        let level = try await store.level(storeID: storeID, productID: productID) ?? .empty
        await cache.offer(key, level)
        // A replica may answer older than what this node already served: never go back in revision (invariant 4).
        // The floor first: a level another node's event invalidated no longer answers `get`, yet this node may have
        // answered it, and a replica that trails (another replica, or one that the primary stood in for) may be
        // older still. Where the floor is gone (evicted from a bounded near cache), the shared cache, which only
        // moves forward, keeps what was served.
        let floor = cache.floor(key)
        if let held = floor, held.revision > level.revision { return held }
        if floor == nil, let held = await cache.get(key), held.revision > level.revision { return held }
        return level
    }

    // MARK: History and listings

    /// A page of the audit trail, newest first (`AuditQuery` holds the filters and the cursor).
    public func auditLog(_ query: AuditQuery) async throws -> [Movement] {
        try await store.auditLog(query)
    }

    /// A page of a store's stock rows in product id order after `afterProductID`; 404 for an unknown store.
    public func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow] {
        try await requireStore(storeID)
        return try await store.levels(storeID: storeID, afterProductID: afterProductID, limit: limit)
    }

    /// A page of a product's stock rows across stores in store id order after `afterStoreID`; 404 for an unknown product.
    public func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow] {
        guard try await catalog.hasProduct(productID) else { throw DomainError.unknownProduct(productID) }
        return try await store.levels(productID: productID, afterStoreID: afterStoreID, limit: limit)
    }

    /// The change feed: movements oldest first, strictly after the ledger sequence `afterSequence`.
    public func movements(afterSequence: Int64, limit: Int) async throws -> [Movement] {
        try await store.movements(afterSequence: afterSequence, limit: limit)
    }

    /// 404 (`DomainError.unknownProduct`) unless the product is in the catalog.
    public func requireProduct(_ productID: String) async throws {
        guard try await catalog.hasProduct(productID) else { throw DomainError.unknownProduct(productID) }
    }

    /// 404 (`DomainError.unknownStore`) unless the store is in the catalog.
    public func requireStore(_ storeID: String) async throws {
        guard try await catalog.hasStore(storeID) else { throw DomainError.unknownStore(storeID) }
    }

    public func requireCatalog(storeID: String, productID: String) async throws {
        guard try await catalog.hasStore(storeID) else { throw DomainError.unknownStore(storeID) }
        guard try await catalog.hasProduct(productID) else { throw DomainError.unknownProduct(productID) }
    }

    public static let maxIdempotencyKeyLength = 255

    static func validateIdempotencyKey(_ key: String) throws(DomainError) -> String {
        guard !key.isEmpty, key.utf8.count <= maxIdempotencyKeyLength,
            key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E })
        else {
            throw .invalid(field: "Idempotency-Key", message: "must be 1-\(maxIdempotencyKeyLength) visible ASCII characters")
        }
        return key
    }
}
