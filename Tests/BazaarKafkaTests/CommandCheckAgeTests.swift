@testable import BazaarKafka
import BazaarCore
import BazaarDomain
import Foundation
import KafkaClient
import Synchronization
import Testing

/// The ingestion checks a batch (decoding, the replay window, the catalog) while the batch before it is written, and
/// each partition's part waits for the batch before to write that partition. If that took long (the database was
/// away, say), the checks are made again when the part is written: a command that left the replay window meanwhile
/// is refused, not applied (its id may have been forgotten).
struct CommandCheckAgeTests {
    final class ManualClock: Sendable {
        let millis = Atomic<Int64>(1_800_000_000_000)
        var clock: WallClock { WallClock { [self] in millis.load(ordering: .relaxed) } }
    }

    static func writer(clock: ManualClock, replayWindowMillis: Int64) async throws -> (CommandChecks, CommandWriter) {
        let memory = InMemoryLedgerStore()
        _ = try await memory.upsertStore(Store(id: "S1", name: "S1", createdAtMillis: 1, updatedAtMillis: 1))
        _ = try await memory.upsertProduct(Product(id: "P1", name: "P1", createdAtMillis: 1, updatedAtMillis: 1))
        let stock = StockService(store: memory, cache: NoStockCache(), catalog: CatalogIndex(store: memory), outboxSignal: OutboxSignal())
        let checks = CommandChecks(stock: stock, replayWindowMillis: replayWindowMillis, describeRefusal: { "\($0)" }, clock: clock.clock)
        return (checks, CommandWriter(stock: stock, checks: checks))
    }

    /// A command inside the replay window by `CommandChecks.maxAgeMillis` and 500 ms when checked, timestamped by `clock`.
    static func message(_ id: String, clock: ManualClock) -> KafkaMessage {
        KafkaMessage(topic: "t", partition: 0, offset: 0, key: nil,
                     value: Array(#"{"id": "\#(id)", "store_id": "S1", "product_id": "P1", "delta": 1, "reason": "receipt"}"#.utf8),
                     timestampMillis: clock.millis.load(ordering: .relaxed) - 59_500 + CommandChecks.maxAgeMillis)
    }

    /// The partition's part is written when its turn comes: soon, the checks stand; after a wait longer than
    /// `CommandChecks.maxAgeMillis` (the batch before took that long), the command is checked again then, and refused.
    @Test func aPartCheckedLongBeforeItsTurnIsCheckedAgainWhenWritten() async throws {
        let clock = ManualClock()
        let (checks, writer) = try await Self.writer(clock: clock, replayWindowMillis: 60_000)
        let soon = [Self.message("c1", clock: clock)]
        let checked = await checks.checked(soon)
        #expect(checked.partitions.count == 1, "accepted when checked")
        clock.millis.add(CommandChecks.maxAgeMillis - 100, ordering: .relaxed)  // its turn came soon enough: the checks stand
        let written = await writer.write(checked.partitions[0], checkedAtMillis: checked.checkedAtMillis, of: soon)
        guard case .applied = written.first?.outcome else {
            Issue.record("expected the command applied, got \(written)")
            return
        }

        let late = [Self.message("c2", clock: clock)]
        let waiting = await checks.checked(late)
        #expect(waiting.partitions.count == 1, "accepted when checked")
        clock.millis.add(CommandChecks.maxAgeMillis + 1_000, ordering: .relaxed)  // the batch before took that long: out of the window now
        let refused = await writer.write(waiting.partitions[0], checkedAtMillis: waiting.checkedAtMillis, of: late)
        guard case .rejected(let problem) = refused.first?.outcome else {
            Issue.record("expected a rejection, got \(refused)")
            return
        }
        #expect(problem.contains("replay window"))
    }
}
