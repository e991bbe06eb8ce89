import BazaarDomain
@testable import BazaarCore
import Testing
import StockDoubles

/// A write whose commit's answer was lost (503, outcome unknown) and that its writer retried with the same key is
/// answered as a replay. Its levels never reached the cache: the replay must stop the cache answering the older level.
@Suite struct ReplayedWriteCacheTests {
    @Test func aReplayedWriteMarksAnOlderCachedLevelStale() async throws {
        let memory = InMemoryLedgerStore()
        _ = try await memory.upsertStore(Store(id: "S1", name: "S1", createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await memory.upsertProduct(Product(id: "P1", name: "P1", createdAtMillis: 1, updatedAtMillis: 1))
        let store = InMemoryStockStore(memory)
        let service = StockService(store: store, cache: InProcessStockCache(), catalog: CatalogIndex(store: store), outboxSignal: OutboxSignal())
        let commands = [try MovementCommand(storeID: "S1", productID: "P1", change: .delta(1), reason: .receipt)]
        _ = try await service.write(commands, actor: "t", idempotencyKey: "first", scope: "k")
        #expect(try await service.level(storeID: "S1", productID: "P1").version == 1)
        // The write whose answer was lost: committed, the cache never told.
        _ = try await store.apply(WriteRequest(commands: commands, actor: "t",
                                               idempotency: IdempotencyClaim(scope: "k", key: "lost", fingerprint: StockService.fingerprint(commands))))
        #expect(try await service.level(storeID: "S1", productID: "P1").version == 1, "the cache holds the older level")
        let retry = try await service.write(commands, actor: "t", idempotencyKey: "lost", scope: "k")
        #expect(retry.replayed)
        #expect(try await service.level(storeID: "S1", productID: "P1").version == 2)
    }

    /// The same for a replay answered before anything is written (`StockService.replay`: the replenishment plan's
    /// transfers look their key up before reading the plan): it too stops the cache answering the older levels.
    @Test func aReplayAnsweredWithoutWritingMarksOlderCachedLevelsStale() async throws {
        let memory = InMemoryLedgerStore()
        for id in ["S1", "S2"] { _ = try await memory.upsertStore(Store(id: id, name: id, createdAtMillis: 1, updatedAtMillis: 1)) }
        _ = try await memory.upsertProduct(Product(id: "P1", name: "P1", createdAtMillis: 1, updatedAtMillis: 1))
        let store = InMemoryStockStore(memory)
        let service = StockService(store: store, cache: InProcessStockCache(), catalog: CatalogIndex(store: store), outboxSignal: OutboxSignal())
        _ = try await service.write([try MovementCommand(storeID: "S1", productID: "P1", change: .delta(10), reason: .receipt)], actor: "t", scope: "k")
        #expect(try await service.level(storeID: "S1", productID: "P1").quantity == 10)
        // The plan's transfers, committed, their answer lost before the cache learned the levels.
        let claim = IdempotencyClaim(scope: "k", key: "plan", fingerprint: "transfer-plan")
        _ = try await store.apply(WriteRequest(commands: [try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-4), reason: .transferOut),
                                                          try MovementCommand(storeID: "S2", productID: "P1", change: .delta(4), reason: .transferIn)],
                                               actor: "t", idempotency: claim))
        #expect(try await service.level(storeID: "S1", productID: "P1").quantity == 10, "the cache holds the older level")
        let replayed = try #require(try await service.replay(claim))
        #expect(replayed.replayed && replayed.movements.count == 2)
        #expect(try await service.level(storeID: "S1", productID: "P1").quantity == 6)
        #expect(try await service.replay(IdempotencyClaim(scope: "k", key: "other", fingerprint: "transfer-plan")) == nil)
    }
}
