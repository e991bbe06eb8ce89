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
/// consumer (issue 15). Bounded: the last `capacity` events, about 1 KB each.
public final class PublishedMovements: Sendable {
    struct Place: Hashable {
        var partition: Int32
        var offset: Int64
    }

    private struct Memory {
        var byPlace: [Place: (value: [UInt8], movement: Movement)] = [:]
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
                if let forgotten = memory.order[memory.next] { memory.byPlace[forgotten] = nil }
                memory.order[memory.next] = place
                memory.next = (memory.next + 1) % capacity
                memory.byPlace[place] = (event.value, event.movement)
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
