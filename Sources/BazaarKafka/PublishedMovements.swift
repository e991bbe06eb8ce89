import BazaarCore
import BazaarDomain
import Crypto
import KafkaClient
import Synchronization

/// The movement events this node is publishing or published lately, by the SHA-256 of their bytes. A consumer of
/// this node that reads one back (its alert consumer; its cache coherence without Redis) and finds there the very
/// bytes of an event this node signed takes its movement from here: genuine, with no parse and no signature to
/// check. Anything else (another node's event, one that fell out of this memory, a forged one) is verified as before
/// (`VerifiedMovements`).
///
/// A node reads back what it published: verifying its own events was the largest single cost of its alert
/// consumer (issue 15). Events are remembered *before* they are sent: a consumer reading right behind the relay
/// otherwise found most of them missing (the memory was filled from delivery reports, which arrive after a whole
/// batch is on the broker: 64-88% of a 150,000-command Kafka ingestion's events were verified after all). The
/// bytes alone decide, not where the broker put them: bytes this node signed are genuine wherever they appear (an
/// event sent again after a broker error, or replayed by someone who copied it, verifies just the same).
/// Bounded: the last `capacity` events, about 600 bytes each with their movement and the dictionary's room (a
/// 150,000-command ingestion peaked 63-98 MB higher than with 16,384 events of about 1.2 KB). Fewer were not enough:
/// with 65,536, 35-42% of that ingestion's events were still verified, the alert consumer lagging further behind
/// the relay while it first read 10,000 pairs' thresholds.
public final class PublishedMovements: Sendable {
    let capacity: Int
    /// Each event's movement by the digest of its bytes. Looked up with `peek`, so the oldest remembered is forgotten
    /// first; an event remembered again (sent again) counts as new.
    private let memory: Mutex<LRUCache<SHA256Digest, Movement>>

    public init(capacity: Int = 131_072) {
        precondition(capacity > 0, "a memory of at least one event")
        self.capacity = capacity
        memory = Mutex(LRUCache(capacity: capacity))
    }

    /// Remembers movement events about to be sent on `bazaar.stock-movements`, with the movements they were signed
    /// from.
    func remember(_ events: [(value: [UInt8], movement: Movement)]) {
        guard !events.isEmpty else { return }
        // Hashed before the lock: the consumers wait for it only to look up.
        let remembered = events.map { event in
            // As verification would read it back: the event's data carries no ledger sequence.
            var movement = event.movement
            movement.sequence = 0
            return (SHA256.hash(data: event.value), movement)
        }
        memory.withLock { memory in
            for (digest, movement) in remembered { memory.set(digest, movement) }
        }
    }

    /// The movement of `message` if this node signed these very bytes as a movement event; nil otherwise.
    func movement(of message: KafkaMessage) -> Movement? {
        guard message.topic == MovementEvent.topic else { return nil }
        let digest = SHA256.hash(data: message.value)
        return memory.withLock { $0.peek(digest) }
    }
}
