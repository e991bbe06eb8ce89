@testable import BazaarKafka
import BazaarCore
import BazaarDomain
import KafkaClient
import StockDoubles
import Synchronization
import Testing

/// A partition's part longer than one transaction (`StockService.maxWritesPerTransaction`) whose second transaction
/// finds the database away: `CommandWriter` writes the rest again each second, in order, until the database takes
/// it. Every command applies once and in the partition's order, and a redelivery of the whole part changes nothing.
struct CommandWriterRetryTests {
    static func message(_ n: Int, at millis: Int64) -> KafkaMessage {
        KafkaMessage(topic: "t", partition: 0, offset: Int64(n), key: nil,
                     value: Array(#"{"id": "c\#(n)", "store_id": "S1", "product_id": "P1", "delta": 1, "reason": "receipt", "reference": "c\#(n)"}"#.utf8),
                     timestampMillis: millis)
    }

    @Test func aPartWhoseSecondTransactionFindsTheDatabaseAwayIsWrittenWholeInOrderOnce() async throws {
        let size = StockService.maxWritesPerTransaction
        let firstOfSecond = "c\(size)"
        // The database is away for the transaction holding the second one's first command, once.
        let away = Atomic<Bool>(true)
        let storage = InMemoryStockStore(unreachable: { request in
            request.idempotency?.key == firstOfSecond && away.exchange(false, ordering: .relaxed)
        })
        _ = try await storage.upsertStore(Store(id: "S1", name: "S1", createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await storage.upsertProduct(Product(id: "P1", name: "P1", createdAtMillis: 1, updatedAtMillis: 1))
        let stock = StockService(store: storage, cache: NoStockCache(), catalog: CatalogIndex(store: storage), outboxSignal: OutboxSignal())
        let checks = CommandChecks(stock: stock, replayWindowMillis: 3_600_000, describeRefusal: { "\($0)" }, clock: .system)
        let writer = CommandWriter(stock: stock, checks: checks)
        let now = WallClock.system.nowMillis()
        let messages = (0...(2 * size)).map { Self.message($0, at: now) }

        let checked = await checks.checked(messages)
        #expect(checked.partitions.count == 1)
        let part = try #require(checked.partitions.first)
        let outcomes = await writer.write(part, checkedAtMillis: checked.checkedAtMillis, of: messages)
        #expect(outcomes.map(\.index) == Array(messages.indices), "an outcome for each command, in order")
        #expect(outcomes.allSatisfy { if case .applied = $0.outcome { true } else { false } }, "every command applied in the end")
        #expect(storage.transactions.sizes.withLock { $0 } == [size, size, size, 1],
                "the second transaction failed and the one after it was held back; both written on the retry")

        // Applied once each, in the partition's order: the ledger's levels count up by one.
        let ledger = try await storage.movements(afterSequence: 0, limit: 3 * size)
        #expect(ledger.count == messages.count)
        #expect(ledger.map(\.reference) == messages.indices.map { "c\($0)" }, "in the partition's order")
        #expect(ledger.map(\.quantityAfter).elementsEqual(1...Int64(messages.count)))
        #expect(try await storage.level(storeID: "S1", productID: "P1")?.quantity == Int64(messages.count))

        // The part delivered again (the node died before committing its offsets): replays, nothing applied twice.
        let again = await checks.checked(messages)
        let replayed = await writer.write(try #require(again.partitions.first), checkedAtMillis: again.checkedAtMillis, of: messages)
        #expect(replayed.allSatisfy { if case .applied = $0.outcome { true } else { false } })
        #expect(try await storage.ledgerTotals(storeID: "S1", productID: "P1") == (sum: Int64(messages.count), rows: Int64(messages.count)))
    }
}
