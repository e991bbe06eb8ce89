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
}
