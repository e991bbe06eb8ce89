import NIOPosix
import Synchronization

/// A fixed set of connections, each with a thread of its own on which all of its blocking calls run.
///
/// Connector/C blocks the calling thread for every round trip; on the Swift concurrency pool (one thread per
/// core) that would stall unrelated tasks. Connections open lazily and reopen after a lost connection on their
/// next use, so a restarted server is picked up without restarting the pool's owner; one the server closed while
/// it sat idle is reopened before the use that finds it so (`MySQLConnection.closeIfClosedByServer`), so that use
/// does not fail.
public final class MySQLConnectionPool: Sendable {
    public let configuration: MySQLConfiguration
    public let size: Int
    private let slots: [Slot]
    private let state: Mutex<State>

    private struct State {
        var idle: [Int]
        var waiters: [CheckedContinuation<Int, any Error>] = []
        var closed = false
    }

    public init(configuration: MySQLConfiguration, size: Int) {
        precondition(size > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.size = size
        self.slots = (0..<size).map { _ in Slot(configuration: configuration) }
        self.state = Mutex(State(idle: Array((0..<size).reversed())))
    }

    /// Runs `body` with a connection of its own, on that connection's thread.
    ///
    /// A connection lost while `body` runs (2006, 2013) surfaces as the thrown `MySQLError`; the connection is
    /// reopened on its next use. Whether to retry is the caller's choice: only it knows whether its work is safe to
    /// repeat. One the server had closed before (a restart while it sat idle) is reopened first, not thrown.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        let index = try await acquire()
        defer { release(index) }
        return try await slots[index].run(body)
    }

    /// Closes every connection and stops the threads; calls waiting for a connection fail.
    public func close() async {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: MySQLError(code: MySQLError.poolClosed, message: "connection pool is closed")) }
        for slot in slots { await slot.shutdown() }
    }

    private func acquire() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let outcome: Result<Int, MySQLError>? = state.withLock { state in
                if state.closed { return .failure(MySQLError(code: MySQLError.poolClosed, message: "connection pool is closed")) }
                if let index = state.idle.popLast() { return .success(index) }
                state.waiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    private func release(_ index: Int) {
        let waiter = state.withLock { state in
            if state.waiters.isEmpty {
                state.idle.append(index)
                return nil as CheckedContinuation<Int, any Error>?
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: index)
    }
}

/// One connection and its thread. The connection is touched only on that thread.
private final class Slot: @unchecked Sendable {
    private let thread: NIOThreadPool
    private let connection: MySQLConnection

    init(configuration: MySQLConfiguration) {
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        connection = MySQLConnection(configuration: configuration)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        try await thread.runIfActive {
            self.connection.closeIfClosedByServer()
            try self.connection.open()
            return try body(self.connection)
        }
    }

    func shutdown() async {
        _ = try? await thread.runIfActive { self.connection.close() }
        try? await thread.shutdownGracefully()
    }
}
