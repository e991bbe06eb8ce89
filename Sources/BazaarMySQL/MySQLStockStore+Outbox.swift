public import BazaarCore
import BazaarDomain
import Metrics
import MySQLClient

/// `OutboxStore` and housekeeping: the relay's lease, the outbox read and emptied by the relay, idempotency records forgotten.
extension MySQLStockStore {
    /// The relay lease is the named lock `bazaar.outbox-relay:<database>` (named locks are server-wide), held by a connection of its own: the server releases
    /// it when that connection ends (the node stopped or died), and another node's next drain takes it.
    public func holdRelayLease() async throws -> Bool {
        do {
            return try await relayLease.withConnection { connection in
                try connection.select("SELECT IS_USED_LOCK(CONCAT('bazaar.outbox-relay:', DATABASE())) = CONNECTION_ID()")[0].optionalInt(0) == 1
                    || connection.select("SELECT GET_LOCK(CONCAT('bazaar.outbox-relay:', DATABASE()), 0)")[0].optionalInt(0) == 1
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    /// The oldest `limit` (or a few more) events waiting, in commit order: whole ranges of `outbox_ranges`, each
    /// entry named by its range's first sequence (the relay deletes what it published by these names), merged by
    /// sequence with the rows a node of an older release queued in `outbox` during a rolling deploy (a movement each,
    /// named by their negated `seq`). A range whose movements are gone (deleted by an older release's
    /// `bazaar archive`, which knew only `outbox`) can never be published: it is deleted here and counted
    /// (`bazaar_outbox_unpublishable_total`), so that it cannot stop the relay.
    public func outboxBatch(limit: Int) async throws -> [OutboxEntry] {
        guard limit > 0 else { return [] }
        return try await onPrimary { connection in
            // Older releases wrote `seq = movement_seq`; ordered by the movement either way.
            let legacy = try connection.select("""
                SELECT \(MySQLRows.movementColumns), outbox.seq FROM outbox JOIN stock_movements ON stock_movements.seq = outbox.movement_seq
                ORDER BY outbox.movement_seq LIMIT ?
                """, [limit]).map { row in
                try OutboxEntry(publishing: try MySQLRows.movement(row), name: -(try row.int(13)))
            }
            var ranges: [OutboxRange] = []
            var events: Int64 = 0
            var queued: [OutboxEntry] = []
            // Read again after deleting ranges that had nothing left to publish (a few times at most: the relay comes back).
            for _ in 0..<10 {
                ranges = []
                events = 0
                for row in try connection.select("SELECT seq, last_seq FROM outbox_ranges ORDER BY seq LIMIT ?", [limit]) where events < limit {
                    let range = OutboxRange(first: try row.int(0), last: try row.int(1))
                    ranges.append(range)
                    events += range.last - range.first + 1
                }
                let (entries, deletedEmpty) = try Self.rangeEntries(ranges, connection: connection)
                queued = entries
                if !entries.isEmpty || !deletedEmpty { break }
            }
            // What each list may still be missing lies above its last row read: merge up to the lower of the two.
            let legacyBound = legacy.count == limit ? legacy.last!.movement!.sequence : Int64.max
            let rangeBound = events >= limit ? ranges.last!.last : Int64.max
            let bound = min(legacyBound, rangeBound)
            return (legacy.filter { $0.movement!.sequence <= bound } + queued.filter { $0.movement!.sequence <= bound })
                .sorted { $0.movement!.sequence < $1.movement!.sequence }
        }
    }

    /// The events of these ranges, in sequence order. Ranges none of whose movements exist are deleted.
    private static func rangeEntries(_ ranges: [OutboxRange], connection: MySQLConnection) throws -> (entries: [OutboxEntry], deletedEmpty: Bool) {
        guard !ranges.isEmpty else { return ([], false) }
        // The text protocol: the literals differ from drain to drain, and a prepared statement per text would churn
        // the connection's statement cache (`StatementBudgetTests`).
        let movements = try connection.query("""
            SELECT \(MySQLRows.movementColumns) FROM stock_movements WHERE \(OutboxRange.condition(ranges)) ORDER BY seq
            """).map(MySQLRows.movement)
        var index = 0
        var found = Set<Int64>()
        let entries = movements.map { movement in
            while movement.sequence > ranges[index].last { index += 1 }
            found.insert(ranges[index].first)
            return OutboxEntry(publishing: movement, name: ranges[index].first)
        }
        let empty = ranges.filter { !found.contains($0.first) }
        if !empty.isEmpty {
            try connection.run("DELETE FROM outbox_ranges WHERE seq IN (\(empty.map { String($0.first) }.joined(separator: ",")))")
            OutboxMetrics.unpublishable.increment(by: empty.reduce(0) { $0 + Int($1.last - $1.first + 1) })
        }
        return (entries, !empty.isEmpty)
    }

    /// Deletes the ranges (and older rows) these entries came from, named as `outboxBatch` names them.
    public func deleteOutbox(sequences: [Int64]) async throws {
        let names = Set(sequences)
        try await delete(names.filter { $0 < 0 }.map { -$0 }.sorted(), from: "outbox")
        try await delete(names.filter { $0 > 0 }.sorted(), from: "outbox_ranges")
    }

    /// Integer literals in a text-protocol statement: no prepared statement per distinct list.
    func delete(_ sequences: [Int64], from table: String) async throws {
        guard !sequences.isEmpty else { return }
        try await onPrimary { connection in
            for start in stride(from: 0, to: sequences.count, by: 1000) {
                let list = sequences[start..<min(start + 1000, sequences.count)].map(String.init).joined(separator: ",")
                try connection.run("DELETE FROM \(table) WHERE seq IN (\(list))")
            }
        }
    }

    /// Movements whose events wait, counted in both tables.
    public func outboxDepth() async throws -> Int {
        try await onPrimary {
            Int(try $0.select("""
                SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COALESCE(SUM(last_seq - seq + 1), 0) FROM outbox_ranges)
                """)[0].int(0))
        }
    }

    public func eventOutboxBatch(limit: Int) async throws -> [OutboxEntry] {
        try await onPrimary { try $0.select("SELECT seq, topic, `key`, event_id, payload FROM event_outbox ORDER BY seq LIMIT ?", [limit]).map(MySQLRows.outboxEntry) }
    }

    public func deleteEventOutbox(sequences: [Int64]) async throws {
        try await delete(sequences, from: "event_outbox")
    }

    public func purgeIdempotency(olderThanMillis: Int64, commandsOlderThanMillis: Int64) async throws -> Int {
        try await onPrimary {
            Int(try $0.execute("DELETE FROM idempotency_keys WHERE created_at_ms < ? AND (scope NOT LIKE ? OR created_at_ms < ?)",
                               [olderThanMillis, IdempotencyScope.commandPrefix + "%", commandsOlderThanMillis]).affectedRows)
        }
    }
}

/// A row of `outbox_ranges`: the events of movements `first...last`, queued by one group commit.
struct OutboxRange: Equatable {
    let first: Int64
    let last: Int64

    /// The runs of consecutive values in `sequences`, in the order given (a group commit's are increasing), at most
    /// `maxLength` each: the relay publishes a range whole, so a bulk load's does not become one huge batch.
    static func runs(of sequences: some Sequence<Int64>, maxLength: Int64 = 1000) -> [OutboxRange] {
        var runs: [OutboxRange] = []
        for sequence in sequences {
            if let run = runs.last, sequence == run.last + 1, run.last - run.first + 1 < maxLength {
                runs[runs.count - 1] = OutboxRange(first: run.first, last: sequence)
            } else {
                runs.append(OutboxRange(first: sequence, last: sequence))
            }
        }
        return runs
    }

    /// `seq BETWEEN a AND b OR ...` over these ranges (in order), neighbours merged: a range scan of the primary key.
    static func condition(_ ranges: [OutboxRange]) -> String {
        var merged: [OutboxRange] = []
        for range in ranges {
            if let previous = merged.last, range.first == previous.last + 1 {
                merged[merged.count - 1] = OutboxRange(first: previous.first, last: range.last)
            } else {
                merged.append(range)
            }
        }
        return merged.map { "seq BETWEEN \($0.first) AND \($0.last)" }.joined(separator: " OR ")
    }
}

extension OutboxEntry {
    /// A movement's event, named `name` in the outbox it waits in.
    init(publishing movement: Movement, name: Int64) {
        self.init(sequence: name, topic: MovementEvent.topic, key: movement.storeID, eventID: movement.movementID, movement: movement)
    }
}

enum OutboxMetrics {
    /// Movements whose events can never be published: their outbox range outlived their ledger rows.
    static let unpublishable = Counter(label: "bazaar_outbox_unpublishable_total")
}
