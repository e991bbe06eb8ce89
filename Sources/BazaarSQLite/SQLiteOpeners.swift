import Glibc
import Synchronization

/// Whether another store has the database open. Each `SQLiteStockStore` holds a shared `flock` on `<database>-openers`
/// for as long as it is open; the kernel drops it when the process ends, however it ends. A bulk load sets the
/// ledger's read indexes aside only when it can hold that lock alone (`SQLiteStockStore.beginBulkLoad`): with a server
/// beside it on the same file, that server would serve the ledger without them for the whole load and, were the
/// load killed, until its own restart (a start builds missing indexes; a running server does not look again).
///
/// The load keeps the lock exclusive until it finishes, so a store opened meanwhile holds none; such a store built
/// any missing index in its own `migrate()` before it served. Anything that fails here (the lock file cannot be
/// created, a file system without `flock`) reads as "not alone": the load keeps the indexes and is only slower.
final class SQLiteOpeners: Sendable {
    private let descriptor: Int32
    private let closed = Mutex(false)

    init(databasePath path: String) {
        descriptor = open(path + "-openers", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor >= 0 { _ = flock(descriptor, LOCK_SH | LOCK_NB) }
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
