import BazaarCore
import BazaarDomain
import MySQLClient

/// Where each statement runs: the primary, or a healthy replica (with read-your-writes), and what a lost database becomes.
extension MySQLStockStore {
    /// A read that may be served by a replica: round robin over the healthy ones; a replica that fails is marked
    /// down and the next one (finally the primary) answers. With a consistency token, the replica first waits
    /// (within `replicaWaitMillis`) until it has applied that write, else the primary answers.
    func onReplica<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        if ConsistencyScope.readsThePrimary { return try await onPrimary(body) }
        let token = ConsistencyScope.current?.requested
        let waitSeconds = Double(options.replicaWaitMillis) / 1000
        for replica in replicas.candidates() {
            do {
                let answer: ReplicaAnswer<T> = try await replica.pool.withConnection { connection in
                    if let token {
                        let caughtUp = connection.isMariaDB
                            ? try connection.select("SELECT MASTER_GTID_WAIT(?, ?)", [token, waitSeconds])[0].int(0) == 0
                            : try connection.select("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", [token, waitSeconds])[0].int(0) == 0
                        if !caughtUp { return .behind }
                    }
                    return .answered(try body(connection))
                }
                switch answer {
                case .answered(let value):
                    StorageMetrics.read(replica: true)
                    readCounter.withLock { $0 += 1 }
                    return value
                case .behind:
                    StorageMetrics.replicaBehind()
                    return try await onPrimary(body)
                }
            } catch let error as MySQLError where error.isConnectionLost || error.code == MySQLError.poolClosed {
                replica.markDown()
            } catch let error as MySQLError where error.isClientSide {
                // An answer the library could not read (its connection is closed): a 503, not a reason to take the
                // replica out of rotation (the request itself may have caused it).
                throw Self.storageError(error)
            } catch let error as MySQLError where error.isStatementTimeout {
                throw QueryTimeout()
            } catch let error as MySQLError where [MySQLError.noSuchTable, MySQLError.unknownColumn, MySQLError.unknownDatabase].contains(error.code) {
                // The replica has not applied a migration yet (a new database, a new table, or a new column such as
                // schema 10's fill_rate): it is behind, the primary answers.
                StorageMetrics.replicaBehind()
                return try await onPrimary(body)
            }
        }
        return try await onPrimary(body)
    }

    @discardableResult
    func onPrimary<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        do {
            let value = try await primary.withConnection(body)
            StorageMetrics.read(replica: false)
            readCounter.withLock { $0 += 1 }
            return value
        } catch {
            throw Self.storageError(error)
        }
    }

    /// A read on the primary of what an earlier write made, for an idempotent replay answered without writing: the
    /// primary's position after it becomes the request's consistency token (as the first answer's token would have
    /// been), so that the client's next reads see that write even from a lagging replica.
    func replayOnPrimary<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T?) async throws -> T? {
        let (value, token): (T?, String?) = try await onPrimary { connection in
            guard let value = try body(connection) else { return (nil, nil) }
            let position = try connection.select(connection.isMariaDB ? "SELECT @@global.gtid_binlog_pos" : "SELECT @@global.gtid_executed")
            return (value, position.first?.optionalString(0)?.filter { !$0.isWhitespace })
        }
        if let token, ConsistencyTokenSigner.isPosition(token) {
            ConsistencyScope.current?.recordWrite(token)
        }
        return value
    }

    /// A write in its own transaction on the primary; its GTID becomes the request's consistency token.
    @discardableResult
    func writeOnPrimary<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        let (value, token): (T, String?) = try await onPrimary { connection in
            let value = try connection.transaction(body)
            return (value, connection.lastGTID)
        }
        if let token { ConsistencyScope.current?.recordWrite(token) }
        return value
    }

    /// A lost or unreachable database, an error of the client library (an answer cut or unreadable), or conflicts
    /// that outlasted every retry, are the client's 503 (retry later, with the same Idempotency-Key), not a 500.
    static func storageError(_ error: any Error) -> any Error {
        if let error = error as? MySQLError, error.isStatementTimeout { return QueryTimeout() }
        if let error = error as? MySQLError,
            error.isConnectionLost || error.isClientSide || error.code == MySQLError.poolClosed || error.isRetryableConflict
                || error.code == MySQLError.duplicateKey
        {
            return StorageUnavailable("database unavailable: \(error.message)")
        }
        return error
    }
}
