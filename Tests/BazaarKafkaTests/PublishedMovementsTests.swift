@testable import BazaarKafka
import BazaarDomain
import Foundation
@testable import KafkaClient
import Testing

/// `PublishedMovements`: a node's own consumers take an event from memory only when its bytes are the very bytes the
/// node signed; anything else goes to the signature check.
struct PublishedMovementsTests {
    static func movement(_ n: Int) -> Movement {
        Movement(sequence: Int64(n), movementID: "m\(n)", storeID: "S1", productID: "P\(n)", delta: 1, quantityBefore: 0, quantityAfter: 1,
                 version: 1, reason: .receipt, reference: nil, actor: "t", atMillis: 1, recordedAtMillis: 1)
    }

    static func sent(_ n: Int) -> (value: [UInt8], movement: Movement) {
        (Array("event \(n)".utf8), movement(n))
    }

    static func message(_ n: Int, partition: Int32 = 0, offset: Int64? = nil, value: String? = nil, topic: String = MovementEvent.topic) -> KafkaMessage {
        KafkaMessage(topic: topic, partition: partition, offset: offset ?? Int64(n), key: nil, value: Array((value ?? "event \(n)").utf8))
    }

    @Test func anEventIsKnownOnlyByItsVeryBytes() {
        let published = PublishedMovements(capacity: 8)
        published.remember([Self.sent(1), Self.sent(2), Self.sent(3)])
        var read = Self.movement(1)
        read.sequence = 0  // as a verified event reads back: its data carries no sequence
        #expect(published.movement(of: Self.message(1)) == read)
        #expect(published.movement(of: Self.message(1)) == read, "read by each consumer of the node, not taken")
        #expect(published.movement(of: Self.message(3, partition: 5, offset: 900))?.movementID == "m3",
                "wherever the broker put it: remembered before it was sent, so before any place was known")
        #expect(published.movement(of: Self.message(2, value: "event 2 forged")) == nil, "other bytes")
        #expect(published.movement(of: Self.message(2, value: "event 2 ")) == nil, "one byte more")
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
        // An event remembered again (sent again after a broker error) survives the eviction of its older slot.
        let again = PublishedMovements(capacity: 3)
        again.remember([Self.sent(4), Self.sent(5), Self.sent(4), Self.sent(6)])
        #expect(again.movement(of: Self.message(4)) != nil, "its newer slot still holds it")
        #expect(again.movement(of: Self.message(5)) != nil && again.movement(of: Self.message(6)) != nil)
    }
}
