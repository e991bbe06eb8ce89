/// A bounded map that forgets the least recently used entry when full.
///
/// The entries live in one array threaded by a doubly linked list of indices (most recent at `head`), so a
/// lookup, an insert and an eviction are O(1) and an eviction reuses the evicted slot: no allocation per entry
/// once the cache is full. Not thread-safe: keep it behind a lock.
public struct LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var value: Value
        var previous: Int
        var next: Int
    }

    public let capacity: Int
    private var nodes: [Node] = []
    private var slots: [Key: Int] = [:]
    /// Slots emptied by `removeAll(where:)`, reused first.
    private var free: [Int] = []
    private var head = -1
    private var tail = -1

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { slots.count }

    /// The value for `key`, which becomes the most recently used.
    public mutating func get(_ key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        moveToFront(slot)
        return nodes[slot].value
    }

    /// The value for `key` without touching its recency.
    public func peek(_ key: Key) -> Value? { slots[key].map { nodes[$0].value } }

    /// Stores `value` as the most recently used, evicting the least recently used entry when full.
    public mutating func set(_ key: Key, _ value: Value) {
        if let slot = slots[key] {
            nodes[slot].value = value
            moveToFront(slot)
            return
        }
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            nodes[slot] = Node(key: key, value: value, previous: -1, next: -1)
        } else if nodes.count < capacity {
            nodes.append(Node(key: key, value: value, previous: -1, next: -1))
            slot = nodes.count - 1
        } else {
            slot = tail
            unlink(slot)
            slots[nodes[slot].key] = nil
            nodes[slot] = Node(key: key, value: value, previous: -1, next: -1)
        }
        slots[key] = slot
        linkAtFront(slot)
    }

    /// Forgets `key`.
    public mutating func remove(_ key: Key) {
        guard let slot = slots.removeValue(forKey: key) else { return }
        unlink(slot)
        free.append(slot)
    }

    /// Forgets every entry whose value matches.
    public mutating func removeAll(where shouldRemove: (Value) -> Bool) {
        for (key, slot) in slots where shouldRemove(nodes[slot].value) {
            unlink(slot)
            slots[key] = nil
            free.append(slot)
        }
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        linkAtFront(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let previous = nodes[slot].previous, next = nodes[slot].next
        if previous >= 0 { nodes[previous].next = next } else { head = next }
        if next >= 0 { nodes[next].previous = previous } else { tail = previous }
        nodes[slot].previous = -1
        nodes[slot].next = -1
    }

    private mutating func linkAtFront(_ slot: Int) {
        nodes[slot].previous = -1
        nodes[slot].next = head
        if head >= 0 { nodes[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}
