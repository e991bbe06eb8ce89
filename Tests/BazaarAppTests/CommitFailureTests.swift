import BazaarCore
@testable import BazaarMySQL
import MySQLClient
import Testing

/// What a group commit does when an attempt fails (`MySQLStockStore.afterFailedAttempt`), and what its writers get
/// (`storageError`). A failure the client library raised during the commit's round trip (an answer cut, lost or
/// unreadable: codes 2000-2999) leaves the commit's outcome unknown: never retried inside (it could apply twice),
/// never a 500 or a Kafka rejection of commands that may be in the ledger, but a 503 to retry with the same key.
@Suite struct CommitFailureTests {
    static func error(_ code: UInt32) -> MySQLError { MySQLError(code: code, message: "code \(code)") }

    @Test func aClientErrorInTheCommitsRoundTripLeavesTheOutcomeUnknown() {
        for code in [MySQLError.serverLost, MySQLError.serverGone, 2027 /* malformed packet */, MySQLError.outOfMemory, 2014 /* out of sync */] {
            guard case .commitUnknown(let failure) = MySQLStockStore.afterFailedAttempt(Self.error(code), committing: true, attempt: 0) else {
                Issue.record("code \(code) during the commit: expected an unknown outcome")
                continue
            }
            #expect(failure.description.contains("may have been applied"))
        }
    }

    @Test func beforeTheCommitALostConnectionOrAConflictIsRetriedAndTheServersOwnRefusalIsNot() {
        let cases: [(UInt32, Bool, Int, String)] = [
            (MySQLError.serverLost, false, 0, "retry"), (2027, false, 0, "fail"),
            (MySQLError.deadlock, true, 0, "retry"), (MySQLError.lockWaitTimeout, false, 3, "retry"), (MySQLError.duplicateKey, true, 0, "retry"),
            (MySQLError.deadlock, true, 8, "fail"), (1406 /* data too long */, true, 0, "fail"), (MySQLError.connectionKilled, true, 0, "fail"),
        ]
        for (code, committing, attempt, expected) in cases {
            let outcome = switch MySQLStockStore.afterFailedAttempt(Self.error(code), committing: committing, attempt: attempt) {
            case .retry: "retry"
            case .fail: "fail"
            case .commitUnknown: "unknown"
            }
            #expect(outcome == expected, "code \(code), committing \(committing), attempt \(attempt)")
        }
    }

    /// Every error of the client library, wherever it happens, is a 503 (`StorageUnavailable`), as a lost connection is.
    @Test func clientErrorsAreUnavailableAndTheServersRefusalsStayWhatTheyAre() {
        for code in [2027, MySQLError.outOfMemory, MySQLError.serverLost, MySQLError.connectionKilled, MySQLError.deadlock] as [UInt32] {
            #expect(MySQLStockStore.storageError(Self.error(code)) is StorageUnavailable, "code \(code)")
        }
        // The server's refusal, and a misuse of a prepared statement this client reports itself (a bug, not an outage:
        // a Kafka command that met it is rejected, not retried for ever).
        for code in [1406, MySQLError.dataTruncated, MySQLError.wrongParameterCount] as [UInt32] {
            #expect(MySQLStockStore.storageError(Self.error(code)) is MySQLError, "code \(code)")
            if case .commitUnknown = MySQLStockStore.afterFailedAttempt(Self.error(code), committing: true, attempt: 0) {
                Issue.record("code \(code) is no answer lost")
            }
        }
    }
}
