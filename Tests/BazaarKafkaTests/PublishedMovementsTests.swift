@testable import BazaarKafka
import BazaarDomain
import Foundation
@testable import KafkaClient
import Testing

/// `PublishedMovements`: a node's own consumers take an event it published from memory only when the bytes at that
/// place are the very bytes it sent; anything else goes to the signature check.
struct PublishedMovementsTests {
    static func movement(_ n: Int) -> Movement {
        Movement(sequence: Int64(n), movementID: "m\(n)", storeID: "S1", productID: "P\(n)", delta: 1, quantityBefore: 0, quantityAfter: 1,
                 version: 1, reason: .receipt, reference: nil, actor: "t", atMillis: 1, recordedAtMillis: 1)
    }

    static func sent(_ n: Int, partition: Int32 = 0) -> (report: KafkaDeliveryReport, value: [UInt8], movement: Movement) {
        (KafkaDeliveryReport(topic: MovementEvent.topic, partition: partition, offset: Int64(n)), Array("event \(n)".utf8), movement(n))
    }

    static func message(_ n: Int, partition: Int32 = 0, value: String? = nil, topic: String = MovementEvent.topic) -> KafkaMessage {
        KafkaMessage(topic: topic, partition: partition, offset: Int64(n), key: nil, value: Array((value ?? "event \(n)").utf8))
    }

    @Test func anEventIsKnownOnlyByItsPlaceAndItsVeryBytes() {
        let published = PublishedMovements(capacity: 8)
        published.remember([Self.sent(1), Self.sent(2), Self.sent(3, partition: 1)])
        var read = Self.movement(1)
        read.sequence = 0  // as a verified event reads back: its data carries no sequence
        #expect(published.movement(of: Self.message(1)) == read)
        #expect(published.movement(of: Self.message(3, partition: 1))?.movementID == "m3")
        #expect(published.movement(of: Self.message(1)) == read, "read by each consumer of the node, not taken")
        #expect(published.movement(of: Self.message(3)) == nil, "another partition's offset 3")
        #expect(published.movement(of: Self.message(2, value: "event 2 forged")) == nil, "other bytes at a remembered place")
        #expect(published.movement(of: Self.message(2, value: "")) == nil)
        #expect(published.movement(of: Self.message(2, topic: "bazaar.stock-alerts")) == nil, "another topic")
        #expect(published.movement(of: Self.message(9)) == nil, "never published here")
    }

    @Test func onlyTheLastCapacityEventsAreKept() {
        let published = PublishedMovements(capacity: 3)
        published.remember((1...5).map { Self.sent($0) })
        #expect((1...5).map { published.movement(of: Self.message($0)) != nil } == [false, false, true, true, true])
        published.remember([Self.sent(6)])
        #expect((1...6).map { published.movement(of: Self.message($0)) != nil } == [false, false, false, true, true, true])
        // A place remembered again (a topic made anew) survives the eviction of its older slot.
        let again = PublishedMovements(capacity: 3)
        again.remember([Self.sent(4), Self.sent(5), Self.sent(4), Self.sent(6)])
        #expect(again.movement(of: Self.message(4)) != nil, "its newer slot still holds it")
        // Another topic's report is not remembered and takes no room.
        published.remember([(KafkaDeliveryReport(topic: "bazaar.stock-alerts", partition: 0, offset: 7), Array("event 7".utf8), Self.movement(7))])
        #expect(published.movement(of: Self.message(4)) != nil)
    }
}
