@testable import BazaarKafka
import BazaarCore
import BazaarDomain
import Foundation
import KafkaClient
import Logging
import StockDoubles
import Testing

/// Two batches of ingestion are written side by side, each partition's part once the batch before has written its
/// own part there (`PartitionTurns`). When the batch before could not (the database was away and it was cancelled
/// first, say), this batch's part of that partition must not pass it: it is not written, the partition's turn goes
/// on refused, and the batch answers false, so that its offsets are not committed and it is delivered again. The
/// other partitions' parts are written as usual, and the redelivery applies each command once.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BAZAAR_TEST_KAFKA_BROKERS"] != nil, "needs BAZAAR_TEST_KAFKA_BROKERS"))
struct CommandIngestionTurnTests {
    static let brokers = ProcessInfo.processInfo.environment["BAZAAR_TEST_KAFKA_BROKERS"] ?? ""

    static func message(_ id: String, partition: Int32) -> KafkaMessage {
        KafkaMessage(topic: CommandIngestion.topic, partition: partition, offset: 0, key: nil,
                     value: Array(#"{"id": "\#(id)", "store_id": "S1", "product_id": "P\#(partition)", "delta": 1, "reason": "receipt"}"#.utf8),
                     timestampMillis: WallClock.system.nowMillis())
    }

    static func settled(_ value: Bool) -> Settlement {
        let settlement = Settlement()
        settlement.settle(value)
        return settlement
    }

    @Test func aPartWhoseTurnWasRefusedIsNotWrittenAndTheBatchIsDeliveredAgain() async throws {
        let storage = InMemoryStockStore()
        _ = try await storage.upsertStore(Store(id: "S1", name: "S1", createdAtMillis: 1, updatedAtMillis: 1))
        for p in ["P0", "P1"] { _ = try await storage.upsertProduct(Product(id: p, name: p, createdAtMillis: 1, updatedAtMillis: 1)) }
        let stock = StockService(store: storage, cache: NoStockCache(), catalog: CatalogIndex(store: storage), outboxSignal: OutboxSignal())
        // Neither client is used to consume or send here (no command is refused): `apply` is driven directly.
        let consumer = try KafkaConsumer(configuration: .consumer(brokers: Self.brokers, group: "turns-\(UUID().uuidString)"), topics: [CommandIngestion.topic])
        defer { consumer.stop() }
        let ingestion = CommandIngestion(consumer: consumer, producer: try KafkaProducer(configuration: .producer(brokers: Self.brokers)), stock: stock,
                                         consumerGroup: "turns", replayWindowMillis: 3_600_000, describeRefusal: { "\($0)" }, logger: Logger(label: "test"))
        let refused = PartitionLane(topic: CommandIngestion.topic, partition: 0), free = PartitionLane(topic: CommandIngestion.topic, partition: 1)
        let messages = [Self.message("a1", partition: 0), Self.message("b1", partition: 1), Self.message("a2", partition: 0), Self.message("b2", partition: 1)]

        // The batch before could not write partition 0; it wrote partition 1.
        let checked = await ingestion.checks.checked(messages)
        let turns = PartitionTurns(before: [refused: Self.settled(false), free: Self.settled(true)], mine: [refused: Settlement(), free: Settlement()])
        #expect(await ingestion.apply(messages, checked: checked, turns: turns) == false, "not all applied: the batch must not be committed")
        #expect(await turns.mine[refused]?.value() == false, "the refusal passes on to the batch after")
        #expect(await turns.mine[free]?.value() == true)
        #expect(try await storage.level(storeID: "S1", productID: "P0") == nil, "partition 0 not written: it would have passed the batch before's commands")
        #expect(try await storage.level(storeID: "S1", productID: "P1")?.quantity == 2)
        #expect(storage.transactions.sizes.withLock { $0 } == [2], "one transaction, partition 1's")

        // Delivered again, after the batch before's commands of partition 0 were: each command applied once.
        let again = await ingestion.checks.checked(messages)
        let next = PartitionTurns(before: [:], mine: [refused: Settlement(), free: Settlement()])
        #expect(await ingestion.apply(messages, checked: again, turns: next) == true)
        #expect(try await storage.level(storeID: "S1", productID: "P0")?.quantity == 2)
        #expect(try await storage.ledgerTotals(storeID: "S1", productID: "P1") == (sum: 2, rows: 2), "partition 1's commands replayed, not applied twice")
    }
}
