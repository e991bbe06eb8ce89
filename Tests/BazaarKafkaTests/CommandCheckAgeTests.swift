@testable import BazaarKafka
import BazaarCore
import BazaarDomain
import Foundation
import KafkaClient
import Synchronization
import Testing

/// The ingestion checks a batch (decoding, the replay window, the catalog) while the batch before it is written. If
/// that took long (the database was away, say), the checks are made again when the batch is written: a command that
/// left the replay window meanwhile is refused, not applied (its id may have been forgotten).
struct CommandCheckAgeTests {
    final class ManualClock: Sendable {
        let millis = Atomic<Int64>(1_800_000_000_000)
        var clock: WallClock { WallClock { [self] in millis.load(ordering: .relaxed) } }
    }

    static func checks(clock: ManualClock, replayWindowMillis: Int64) async throws -> CommandChecks {
        let memory = InMemoryLedgerStore()
        _ = try await memory.upsertStore(Store(id: "S1", name: "S1", createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await memory.upsertProduct(Product(id: "P1", name: "P1", createdAtMillis: 1, updatedAtMillis: 1))
        let stock = StockService(store: memory, cache: NoStockCache(), catalog: CatalogIndex(store: memory), outboxSignal: OutboxSignal())
        return CommandChecks(stock: stock, replayWindowMillis: replayWindowMillis, describeRefusal: { "\($0)" }, clock: clock.clock)
    }

    @Test func aBatchCheckedLongBeforeItIsWrittenIsCheckedAgain() async throws {
        let clock = ManualClock()
        let ingestion = try await Self.checks(clock: clock, replayWindowMillis: 60_000)
        let now = clock.millis.load(ordering: .relaxed)
        // Inside the window by 500 ms when checked.
        let message = KafkaMessage(topic: "t", partition: 0, offset: 0, key: nil,
                                   value: Array(#"{"id": "c1", "store_id": "S1", "product_id": "P1", "delta": 1, "reason": "receipt"}"#.utf8),
                                   timestampMillis: now - 59_500)
        let checked = await ingestion.checked([message])
        #expect(checked.partitions.count == 1, "accepted when checked")

        clock.millis.add(200, ordering: .relaxed)  // written at once: the checks stand
        #expect(await ingestion.fresh(checked, of: [message]).partitions.count == 1)

        clock.millis.add(1_800, ordering: .relaxed)  // the batch before took 2 s: out of the window now
        let again = await ingestion.fresh(checked, of: [message])
        #expect(again.partitions.isEmpty)
        guard case .rejected(let problem) = again.outcomes[0] else {
            Issue.record("expected a rejection, got \(again.outcomes[0])")
            return
        }
        #expect(problem.contains("replay window"))
    }
}
