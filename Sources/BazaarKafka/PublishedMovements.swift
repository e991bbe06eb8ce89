import BazaarDomain
import KafkaClient
import Synchronization

/// The movement events this node published lately, by their place on `bazaar.stock-movements`, with their bytes.
/// A consumer of this node that reads one back (its alert consumer; its cache coherence without Redis) and finds
/// there, byte for byte, an event this node signed and sent itself takes its movement from here: genuine, with no
/// parse and no signature to check. Anything else (another node's event, one that fell out of this memory, a
/// forged one at a remembered place) is verified as before (`VerifiedMovements`).
///
/// A node reads back what it published: verifying its own events was the largest single cost of its alert
/// consumer (issue 15). Bounded: the last `capacity` events, about 1.2 KB each with their movement (~20 MB).
public final class PublishedMovements: Sendable {
    struct Place: Hashable {
        var partition: Int32
        var offset: Int64
    }

    private struct Memory {
        /// Each event with the ring slot that holds its place.
        var byPlace: [Place: (value: [UInt8], movement: Movement, slot: Int)] = [:]
        /// Places in the order remembered, a ring of `capacity`: the oldest is forgotten first.
        var order: [Place?]
        var next = 0
    }

    let capacity: Int
    private let memory: Mutex<Memory>

    public init(capacity: Int = 16_384) {
        precondition(capacity > 0, "a memory of at least one event")
        self.capacity = capacity
        memory = Mutex(Memory(order: Array(repeating: nil, count: capacity)))
    }

    /// Remembers events as the broker placed them (their delivery reports).
    func remember(_ events: [(report: KafkaDeliveryReport, value: [UInt8], movement: Movement)]) {
        guard !events.isEmpty else { return }
        memory.withLock { memory in
            for event in events where event.report.topic == MovementEvent.topic {
                let place = Place(partition: event.report.partition, offset: event.report.offset)
                // The oldest is forgotten, unless its place was remembered again since (a topic made anew).
                if let forgotten = memory.order[memory.next], memory.byPlace[forgotten]?.slot == memory.next {
                    memory.byPlace[forgotten] = nil
                }
                // As verification would read it back: the event's data carries no ledger sequence.
                var movement = event.movement
                movement.sequence = 0
                memory.order[memory.next] = place
                memory.byPlace[place] = (event.value, movement, memory.next)
                memory.next = (memory.next + 1) % capacity
            }
        }
    }

    /// The movement of `message` if this node published these very bytes at its place; nil otherwise.
    func movement(of message: KafkaMessage) -> Movement? {
        guard message.topic == MovementEvent.topic else { return nil }
        let place = Place(partition: message.partition, offset: message.offset)
        guard let known = memory.withLock({ $0.byPlace[place] }), known.value == message.value else { return nil }
        return known.movement
    }
}
