import Metrics
import MySQLClient
import Synchronization

/// Group commits run again after a conflict, by cause: `bazaar_db_write_retries_total{cause}` for operators (deadlocks
/// that keep rising mean two writers take rows in different orders; duplicate keys, two nodes racing to create the
/// same row or to claim the same idempotency key; known keys, a large batch meeting a key it took as new,
/// `IdempotencyReads`: a redelivery), and a count per store for the tests that hold the lock order.
final class WriteRetries: Sendable {
    enum Cause: String, CaseIterable, Sendable {
        case deadlock
        case lockWait = "lock_wait"
        case duplicateKey = "duplicate_key"
        /// An attempt that took its keys as new met a duplicate, and was dropped (`IdempotencyReads`): a recorded key,
        /// or, rarely, a stock row another node created at once (the server's error does not say which table).
        case knownKey = "known_key"
        case connection
    }

    private static let counters = Dictionary(uniqueKeysWithValues: Cause.allCases.map { cause in
        (cause, Counter(label: "bazaar_db_write_retries_total", dimensions: [("cause", cause.rawValue)]))
    })
    private let counts = Mutex<[Cause: Int]>([:])

    /// Counts a retry caused by `error`.
    func record(_ error: MySQLError) {
        let cause: Cause = switch error.code {
        case MySQLError.deadlock: .deadlock
        case MySQLError.lockWaitTimeout: .lockWait
        case MySQLError.duplicateKey: .duplicateKey
        default: .connection
        }
        record(cause)
    }

    /// Counts a retry of `cause`.
    func record(_ cause: Cause) {
        Self.counters[cause]?.increment()
        counts.withLock { $0[cause, default: 0] += 1 }
    }

    /// Retries of this store so far for `cause`.
    func count(_ cause: Cause) -> Int { counts.withLock { $0[cause, default: 0] } }
}
