import BazaarCore
import MySQLClient

extension MySQLLedgerTransaction {
    /// Whether any of `claims` taken as new by `begin` has a record after all. A request the batch refused records
    /// nothing, so no insert would find its key: a retry of an applied request, refused now (its stock since sold,
    /// its expected version passed), must replay its first answer, not be refused. Reads only those keys: none in
    /// a batch that refused nothing.
    func anyRecorded(_ claims: [IdempotencyClaim]) throws -> Bool {
        let ids = Set(claims.map { IdempotencyID(scope: $0.scope, key: $0.key) }).intersection(assumedNew)
        guard !ids.isEmpty else { return false }
        for read in try idempotencyReads(ids) where try !connection.query(read).isEmpty { return true }
        return false
    }
}
