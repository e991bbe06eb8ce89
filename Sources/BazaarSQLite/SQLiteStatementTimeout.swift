import BazaarCore
import Dispatch
import GRDB
import GRDBSQLite

/// A deadline for one read: SQLite calls a progress handler every few thousand virtual-machine steps, and a
/// handler that answers non-zero interrupts the statement (`SQLITE_INTERRUPT`). So no read of the audit trail or a
/// listing holds a reader connection (and, at 100 million rows, the WAL's checkpoints) for longer than the bound.
enum SQLiteStatementTimeout {
    final class Deadline {
        let nanoseconds: UInt64
        init(millis: Int) { nanoseconds = DispatchTime.now().uptimeNanoseconds + UInt64(millis) * 1_000_000 }
    }

    /// Runs `body` with the deadline on `db`; an interrupted statement throws `QueryTimeout`.
    static func run<T>(_ db: Database, millis: Int, _ body: () throws -> T) throws -> T {
        guard millis > 0, let connection = db.sqliteConnection else { return try body() }
        let deadline = Unmanaged.passRetained(Deadline(millis: millis))
        sqlite3_progress_handler(connection, 4096, { context in
            guard let context else { return 0 }
            let deadline = Unmanaged<Deadline>.fromOpaque(context).takeUnretainedValue()
            return DispatchTime.now().uptimeNanoseconds > deadline.nanoseconds ? 1 : 0
        }, deadline.toOpaque())
        defer {
            sqlite3_progress_handler(connection, 0, nil, nil)
            deadline.release()
        }
        do {
            return try body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
            throw QueryTimeout()
        }
    }
}

extension SQLiteStockStore {
    /// Runs one read-only statement under the statement timeout and returns its first column as text (tests).
    public func readForTest(timeoutMillis: Int, sql: String) async throws -> [String] {
        try await pool.read { db in
            try SQLiteStatementTimeout.run(db, millis: timeoutMillis) { try String.fetchAll(db, sql: sql) }
        }
    }
}
