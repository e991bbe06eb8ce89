import BazaarCore
import BazaarDomain
import MySQLClient

/// The ledger rows an idempotency record names, for a replay.
extension MySQLLedgerTransaction {
    /// One statement per 500 ids (a replayed batch or plan names up to 200 movements: a round trip each would hold
    /// every writer of the group commit on its locks meanwhile), in the order asked.
    func movements(ids: [String]) throws -> [Movement] {
        var found: [String: Movement] = [:]
        let stored = ids.filter { id in !newMovements.contains { $0.movementID == id } }
        for start in stride(from: 0, to: stored.count, by: 500) {
            // Literals, not placeholders: one prepared text per count of ids would crowd the connection's statements.
            let list = try stored[start..<min(stored.count, start + 500)].map { try connection.literal(.text($0)) }.joined(separator: ",")
            for row in try connection.query("SELECT \(MySQLRows.movementColumns) FROM stock_movements WHERE movement_id IN (\(list))") {
                let movement = try MySQLRows.movement(row)
                found[movement.movementID] = movement
            }
        }
        return try ids.map { id in
            if let pending = newMovements.first(where: { $0.movementID == id }) { return pending }
            guard let movement = found[id] else {
                throw MySQLError(code: MySQLError.corruptData, message: "idempotency record names missing movement \(id)")
            }
            return movement
        }
    }
}
