import CMariaDB

/// Bulk execution: one prepared statement run for arrays of parameters in one round trip (MariaDB only).
extension MySQLConnection {
    /// Runs a prepared statement (cached as `execute`'s are) once for every row of `rows`, in one round trip:
    /// MariaDB's bulk execution (`supportsBulkExecution`), which parses nothing however many rows there are. The
    /// rows should stay under `maxScriptBytes` (`MySQLBulkRows.byteCount`): the round trip is one packet.
    @discardableResult
    public func executeBulk(_ sql: String, _ rows: MySQLBulkRows) throws(MySQLError) -> MySQLResult {
        guard supportsBulkExecution else {
            throw MySQLError(code: MySQLError.unsupported, message: "the server does not take bulk executions (MySQL, or MariaDB before 10.2)")
        }
        return try withPrepared(sql) { statement throws(MySQLError) in try statement.executeBulk(rows) }
    }

    /// True when the server runs a statement for arrays of parameters in one execution (MariaDB 10.2 and later;
    /// never MySQL) and `configuration.bulkExecution` allows it.
    public var supportsBulkExecution: Bool {
        guard configuration.bulkExecution, let handle = try? requireHandle() else { return false }
        var capabilities: UInt = 0, extended: UInt = 0
        guard mariadb_get_info(handle, MARIADB_CONNECTION_SERVER_CAPABILITIES, &capabilities) == 0,
              mariadb_get_info(handle, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &extended) == 0 else { return false }
        return capabilities & UInt(CLIENT_MYSQL) == 0 && extended & UInt(MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32) != 0
    }
}
