/// One error type for everything the client reports: server errors with their MySQL error number and
/// SQLSTATE, client errors (2000-2999, e.g. a lost connection) and misuse of the client itself.
public struct MySQLError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The MySQL/MariaDB error number (`mysql_errno`), or one of the client codes below.
    public var code: UInt32
    public var sqlState: String
    public var message: String

    public init(code: UInt32, sqlState: String = "HY000", message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String { "MySQL error \(code) (\(sqlState)): \(message)" }

    // Server error numbers the callers act on.
    public static let duplicateKey: UInt32 = 1062
    public static let noSuchTable: UInt32 = 1146
    /// The database named in the URL does not exist (on a replica: it has not applied the `CREATE DATABASE` yet).
    public static let unknownDatabase: UInt32 = 1049
    /// ER_BAD_FIELD_ERROR: a column the statement names does not exist (on a replica: a migration that adds one not
    /// applied yet).
    public static let unknownColumn: UInt32 = 1054
    public static let lockWaitTimeout: UInt32 = 1205
    public static let deadlock: UInt32 = 1213
    // Client error numbers (errmsg.h).
    public static let serverGone: UInt32 = 2006
    public static let serverLost: UInt32 = 2013
    public static let cannotConnect: UInt32 = 2003
    public static let serverLostExtended: UInt32 = 2055
    public static let serverSocketFailed: UInt32 = 2002
    public static let outOfMemory: UInt32 = 2008
    public static let sslConnectionError: UInt32 = 2026
    public static let dataTruncated: UInt32 = 2032
    public static let wrongParameterCount: UInt32 = 2034
    // Server error numbers that end a connection.
    public static let connectionKilled: UInt32 = 1927
    public static let disconnectedForInactivity: UInt32 = 4031
    public static let statementTimeMariaDB: UInt32 = 1969
    public static let statementTimeMySQL: UInt32 = 3024
    // Codes of this client and its users (not the library's, not the server's): 9000 and up.
    /// A `mysql://` URL that cannot be used.
    public static let invalidURL: UInt32 = 9000
    /// The pool is closed.
    public static let poolClosed: UInt32 = 9001
    /// A value could not be read as the type asked for.
    public static let typeMismatch: UInt32 = 9002
    /// Stored data breaks an invariant the schema cannot express (a missing row that must exist).
    public static let corruptData: UInt32 = 9003
    /// Another process held a named lock (`GET_LOCK`) for longer than the caller would wait.
    public static let lockNotGranted: UInt32 = 9004
    /// A record the caller's protocol needs does not exist (e.g. the run an archive resumes).
    public static let missingRecord: UInt32 = 9005
    /// The server cannot do what was asked (a bulk execution on MySQL).
    public static let unsupported: UInt32 = 9006

    /// The connection is unusable: it must be reopened, and prepared statements prepared again.
    public var isConnectionLost: Bool {
        [Self.serverGone, Self.serverLost, Self.serverLostExtended, Self.cannotConnect, Self.serverSocketFailed, Self.sslConnectionError,
         Self.connectionKilled, Self.disconnectedForInactivity].contains(code)
    }

    /// The connection or its answer failed in the client library (codes 2000-2999: a lost or refused connection, a
    /// packet cut or unreadable, commands out of sync), not the server's answer to a statement: the connection cannot
    /// be trusted again, and during a commit's round trip the commit's outcome is unknown. Not the two codes that
    /// `MySQLPreparedStatement` raises itself for a misuse of a statement (`dataTruncated`, `wrongParameterCount`).
    public var isClientSide: Bool {
        (2000..<3000).contains(code) && code != Self.dataTruncated && code != Self.wrongParameterCount
    }

    /// A transaction that failed this way was rolled back (or its statement was) and may be retried as a whole.
    /// MariaDB's `max_statement_time` (1969) or MySQL's `max_execution_time` (3024) stopped the statement.
    public var isStatementTimeout: Bool { code == Self.statementTimeMariaDB || code == Self.statementTimeMySQL }

    public var isRetryableConflict: Bool { code == Self.deadlock || code == Self.lockWaitTimeout }
}
