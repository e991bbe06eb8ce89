import BazaarCore
import BazaarDomain
import MySQLClient

extension MySQLStockStore {
    /// `reads` nil: the batch reads its idempotency records first whatever its size (HTTP group commits).
    static func commit(_ requests: [WriteRequest], pool: MySQLConnectionPool, clock: WallClock,
                       retries: WriteRetries, reads: IdempotencyReads?) async -> [Result<TokenedReceipt, any Error>] {
        do {
            return try await pool.withConnection { connection in
                try commitBatch(requests, connection: connection, clock: clock, retries: retries, reads: reads)
            }
        } catch {
            let failure = Self.storageError(error)
            return requests.map { _ in .failure(failure) }
        }
    }

    /// One transaction for the batch, retried as a whole on conflicts. Runs on the connection's own thread.
    ///
    /// A large Kafka batch may take its idempotency keys as new (`IdempotencyReads`); an attempt that meets a
    /// recorded one is dropped, and every later attempt reads the records first.
    static func commitBatch(_ requests: [WriteRequest], connection: MySQLConnection, clock: WallClock,
                            retries: WriteRetries, reads: IdempotencyReads?) throws -> [Result<TokenedReceipt, any Error>] {
        var keys = Set<MySQLLedgerTransaction.Key>()
        for request in requests {
            for command in request.commands { keys.insert(.init(storeID: command.storeID, productID: command.productID)) }
        }
        let sortedKeys = keys.sorted()
        let claims = requests.compactMap(\.idempotency)
        var readingFirst = reads?.readFirst(claims: claims.count) ?? true
        var attempt = 0
        while true {
            var committing = false
            do {
                try connection.open()
                if let receipts = try Self.attempt(requests, keys: sortedKeys, claims: claims, readingRecordsFirst: readingFirst,
                                                   reads: reads, connection: connection, now: clock.nowMillis(), committing: &committing) {
                    return receipts
                }
                // A request it refused had its key recorded: run again, reading the records first.
                connection.rollback()
                retries.record(.knownKey)
                reads?.metKnownKey()
                readingFirst = true
            } catch let error as MySQLError {
                let next = Self.afterFailedAttempt(error, committing: committing, attempt: attempt)
                if case .commitUnknown = next {
                    connection.close()  // its answer was not read: the connection is not used again
                } else if connection.isOpen && connection.inTransaction {
                    connection.rollback()
                }
                switch next {
                case .retry:
                    if !readingFirst && error.code == MySQLError.duplicateKey {
                        retries.record(.knownKey)
                        reads?.metKnownKey()
                    } else {
                        retries.record(error)
                    }
                    readingFirst = true
                    attempt += 1
                    // Back off a little, with jitter, so that conflicting batches stop colliding.
                    usleepMillis(Double.random(in: 1...4) * Double(attempt))
                case .fail(let failure): throw failure
                case .commitUnknown(let failure):
                    reads?.metKnownKey()  // it may have committed: its commands, written again, are probably known
                    throw failure
                }
            }
        }
    }

    /// One attempt at the batch; nil, with the transaction open, when it took its keys as new and a request it
    /// refused had its key recorded after all.
    private static func attempt(_ requests: [WriteRequest], keys: [MySQLLedgerTransaction.Key], claims: [IdempotencyClaim],
                                readingRecordsFirst: Bool, reads: IdempotencyReads?, connection: MySQLConnection, now: Int64,
                                committing: inout Bool) throws -> [Result<TokenedReceipt, any Error>]? {
        var tx = MySQLLedgerTransaction(connection: connection)
        try tx.begin(locking: keys, claims: claims, readingRecords: readingRecordsFirst)
        // Known keys read: a redelivery is under way, and its next batches would meet more of them.
        if tx.foundRecords { reads?.metKnownKey() }
        var outcomes: [Result<WriteReceipt, any Error>] = []
        outcomes.reserveCapacity(requests.count)
        var refusedClaims: [IdempotencyClaim] = []
        for request in requests {
            let savepoint = tx.savepoint()
            do {
                outcomes.append(.success(try LedgerWrite.apply(request, in: &tx, nowMillis: now)))
            } catch let refusal as DomainError {
                tx.rollback(to: savepoint)  // nothing of a refused request reaches the database
                outcomes.append(.failure(refusal))
                if let claim = request.idempotency { refusedClaims.append(claim) }
            }
        }
        if try tx.anyRecorded(refusedClaims) { return nil }
        // The inserts go with the commit in one round trip, those of a large batch in parts before it (the
        // server's packet bound): a connection lost before the last round trip leaves nothing committed
        // (retried); one lost in the last leaves the commit unknown (not retried).
        let (sequences, inserts) = try tx.flushPipelined()
        committing = true
        try connection.commitTransaction(after: inserts)
        return Self.receipts(outcomes, sequences: sequences, token: connection.lastGTID)
    }

    /// The committed batch's receipts: each provisional sequence (-(k+1)) replaced by the batch's k-th.
    private static func receipts(_ outcomes: [Result<WriteReceipt, any Error>], sequences: [Int64],
                                 token: String?) -> [Result<TokenedReceipt, any Error>] {
        outcomes.map { outcome in
            outcome.map { receipt in
                var receipt = receipt
                for index in receipt.movements.indices where receipt.movements[index].sequence < 0 {
                    receipt.movements[index].sequence = sequences[Int(-receipt.movements[index].sequence) - 1]
                }
                return TokenedReceipt(receipt: receipt, token: token)
            }
        }
    }

    /// What a group commit's failed attempt leads to.
    enum AttemptFailure {
        /// A conflict, or a connection lost before the commit's round trip: nothing was committed, run it again.
        case retry
        /// The writers get this error.
        case fail(any Error)
        /// The commit's round trip failed in the client (a connection lost, an answer cut or unreadable): the commit
        /// may have happened, so it is not run again (it could apply twice). The writers get 503 and retry with their
        /// keys; a Kafka batch is delivered again (its commands are idempotent by id), never rejected.
        case commitUnknown(StorageUnavailable)
    }

    static func afterFailedAttempt(_ error: MySQLError, committing: Bool, attempt: Int) -> AttemptFailure {
        if committing && error.isClientSide {
            return .commitUnknown(StorageUnavailable(
                "database unavailable: the answer to the commit was lost (\(error.message)), so the write may have been applied: a retry without an Idempotency-Key could apply it twice",
                writeMayHaveApplied: true))
        }
        let retryable = error.isRetryableConflict || error.code == MySQLError.duplicateKey || (error.isConnectionLost && !committing)
        return retryable && attempt < 8 ? .retry : .fail(error)
    }
}
