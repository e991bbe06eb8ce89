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
    public static let lockWaitTimeout: UInt32 = 1205
    public static let deadlock: UInt32 = 1213
    // Client error numbers (errmsg.h).
    public static let serverGone: UInt32 = 2006
    public static let serverLost: UInt32 = 2013
    public static let cannotConnect: UInt32 = 2003
    public static let serverLostExtended: UInt32 = 2055
    /// Not a library code: the pool is closed.
    public static let poolClosed: UInt32 = 9001
    /// Not a library code: a value could not be read as the type asked for.
    public static let typeMismatch: UInt32 = 9002

    /// The connection is unusable: it must be reopened, and prepared statements prepared again.
    public var isConnectionLost: Bool {
        [Self.serverGone, Self.serverLost, Self.serverLostExtended, Self.cannotConnect, 2002, 2026].contains(code)
            || code == 1927 /* connection was killed */ || code == 4031 /* disconnected for inactivity */
    }

    /// A transaction that failed this way was rolled back (or its statement was) and may be retried as a whole.
    /// MariaDB's `max_statement_time` (1969) or MySQL's `max_execution_time` (3024) stopped the statement.
    public var isStatementTimeout: Bool { code == 1969 || code == 3024 }

    public var isRetryableConflict: Bool { code == Self.deadlock || code == Self.lockWaitTimeout }
}
