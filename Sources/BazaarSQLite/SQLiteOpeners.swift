import Glibc
import Synchronization

/// Whether another store has the database open. Each `SQLiteStockStore` holds a shared `flock` on `<database>-openers`
/// for as long as it is open; the kernel drops it when the process ends, however it ends. A bulk load sets the
/// ledger's read indexes aside (and stages its demand rows, and leaves the write-ahead log) only when it can hold that
/// lock alone (`SQLiteStockStore.beginBulkLoad`): with a server beside it on the same file, that server would serve the
/// ledger without them for the whole load and, were the load killed, until its own restart (a start builds missing
/// indexes; a running server does not look again).
///
/// The load keeps the lock exclusive until it finishes (or its process ends), so a store opened meanwhile finds it
/// taken (`heldByALoad`) and refuses to open (`SQLiteFileBeingLoaded`): the load writes through a rollback journal
/// that the store's pool could not leave, and its later chunks would overwrite the levels of any write served beside
/// it. Anything that fails here (the lock file cannot be created, a file system without `flock`) reads as "not
/// alone": the load keeps the indexes and the write-ahead log and is only slower.
final class SQLiteOpeners: Sendable {
    private let descriptor: Int32
    private let closed = Mutex(false)
    /// The shared lock was refused at opening: a bulk load in another process holds it exclusively.
    let heldByALoad: Bool

    init(databasePath path: String) {
        descriptor = open(path + "-openers", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        heldByALoad = descriptor >= 0 && flock(descriptor, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// Holds the lock alone if no other store has the database open; true when it does (until `share`).
    func takeAlone() -> Bool {
        guard descriptor >= 0 else { return false }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
        // A refused conversion may have dropped the shared lock (flock converts by unlocking first): take it again.
        _ = flock(descriptor, LOCK_SH | LOCK_NB)
        return false
    }

    /// Back to a shared lock beside the other openers.
    func share() {
        guard descriptor >= 0 else { return }
        _ = flock(descriptor, LOCK_SH | LOCK_NB)
    }

    /// Releases the lock (closing the file); later calls do nothing.
    func release() {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first, descriptor >= 0 { _ = Glibc.close(descriptor) }
    }

    deinit { release() }
}

/// A store refused to open a file that a bulk load in another process is writing (`SQLiteOpeners.heldByALoad`).
public struct SQLiteFileBeingLoaded: Error, CustomStringConvertible {
    public let path: String
    public var description: String {
        "the SQLite database \(path) is being loaded by `bazaar demo` in another process; start again once the load has"
            + " finished (a load that was stopped releases the file at once)"
    }
}
