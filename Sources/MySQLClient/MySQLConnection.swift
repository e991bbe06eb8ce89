import CMariaDB
import Glibc
import Synchronization

/// One connection to a MySQL or MariaDB server over Connector/C.
///
/// Every call blocks its thread, so a connection belongs to one thread at a time: `MySQLConnectionPool` runs it
/// on a dedicated thread, never on the Swift concurrency pool. Prepared statements are cached per connection by
/// their SQL text, at most `configuration.statementCacheSize` of them (the least recently used is closed first);
/// after a lost connection the pool reopens it and the cache starts empty.
public final class MySQLConnection {
    public let configuration: MySQLConfiguration
    private var handle: UnsafeMutablePointer<MYSQL>?
    private var statements: [String: (statement: MySQLPreparedStatement, lastUse: UInt64)] = [:]
    private var uses: UInt64 = 0
    /// True when the server is MariaDB (GTIDs and the wait function differ from MySQL's).
    public private(set) var isMariaDB = true
    /// The GTID of this session's last committed write, tracked from the server's OK packets (no extra query).
    public private(set) var lastGTID: String?
    public private(set) var inTransaction = false

    public init(configuration: MySQLConfiguration) {
        self.configuration = configuration
    }

    deinit { close() }

    public var isOpen: Bool { handle != nil }

    /// Opens the connection (a no-op when open) and asks the server to report GTIDs in OK packets.
    public func open() throws(MySQLError) {
        if handle != nil { return }
        MySQLLibrary.initialize()
        guard let mysql = mysql_init(nil) else { throw MySQLError(code: MySQLError.outOfMemory, message: "out of memory in mysql_init") }
        var connectTimeout = configuration.connectTimeoutSeconds
        var readTimeout = configuration.readTimeoutSeconds
        var writeTimeout = configuration.writeTimeoutSeconds
        mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &readTimeout)
        mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &writeTimeout)
        mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        var protocolTCP = MYSQL_PROTOCOL_TCP.rawValue
        if configuration.unixSocket == nil { mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocolTCP) }
        if configuration.tls != .disabled {
            var enforce: my_bool = 1
            mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce)
            if configuration.tls == .verify {
                var verify: my_bool = 1
                mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify)
            }
            if let ca = configuration.tlsCAFile { mysql_options(mysql, MYSQL_OPT_SSL_CA, ca) }
        }
        let connected = mysql_real_connect(
            mysql, configuration.host, configuration.user, configuration.password, configuration.database,
            configuration.port, configuration.unixSocket,
            UInt(CLIENT_MULTI_RESULTS) | (configuration.multiStatements ? UInt(CLIENT_MULTI_STATEMENTS) : 0))
        guard connected != nil else {
            let error = Self.error(of: mysql)
            mysql_close(mysql)
            throw error
        }
        handle = mysql
        let serverInfo = String(cString: mysql_get_server_info(mysql))
        isMariaDB = serverInfo.contains("MariaDB")
        inTransaction = false
        do {
            if isMariaDB {
                try query("SET SESSION session_track_system_variables = 'last_gtid'")
            } else {
                try query("SET SESSION session_track_gtids = 'OWN_GTID'")
            }
            if let millis = configuration.statementTimeoutMillis {
                try query(isMariaDB ? "SET SESSION max_statement_time = \(Double(millis) / 1000)" : "SET SESSION max_execution_time = \(millis)")
            }
            for statement in configuration.sessionStatements { try query(statement) }
        } catch {
            close()
            throw error
        }
    }

    /// Closes the connection when the server has already closed its end (the server restarted, or ended an idle
    /// session: `KILL`, `wait_timeout`), seen by a look at the socket that reads nothing and waits for nothing
    /// (`poll` for a hang-up). `MySQLConnectionPool` looks before every use, so a connection left idle through a
    /// server restart reconnects before anything is sent on it, instead of failing the first statement of its next
    /// use, which no server ever received and which the caller could not tell from one lost on the way (Go's MySQL
    /// driver checks its pooled connections the same way). It sees what reached this host: a server lost without a
    /// word (its host gone, the network cut) is found by the next statement, which fails as before. A connection
    /// lost while a statement runs fails that statement.
    public func closeIfClosedByServer() {
        guard let handle else { return }
        var probe = pollfd(fd: mysql_get_socket(handle), events: Int16(POLLIN) | Self.peerHungUp, revents: 0)
        guard probe.fd >= 0, poll(&probe, 1, 0) == 1 else { return }
        if probe.revents & (Self.peerHungUp | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)) != 0 {
            close()
        } else if probe.revents & Int16(POLLIN) != 0, mysql_get_ssl_cipher(handle) == nil {
            // Bytes nobody asked for on a plain connection between uses: the protocol is out of step. (Over TLS they
            // can be a record the library reads later, such as a session ticket: left alone.)
            close()
        }
    }

    /// Linux's `POLLRDHUP` (the peer closed its end; Glibc exposes it only to GNU sources): set even with data
    /// still unread, such as the error packet a server may send before it closes a session.
    private static let peerHungUp: Int16 = 0x2000

    /// Closes the connection and forgets its prepared statements.
    public func close() {
        for entry in statements.values { entry.statement.close() }
        statements.removeAll()
        if let handle { mysql_close(handle) }
        handle = nil
        inTransaction = false
    }

    /// Runs a prepared statement (prepared once per connection and cached) with its parameters bound.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any MySQLBindable] = []) throws(MySQLError) -> MySQLResult {
        try withPrepared(sql) { statement throws(MySQLError) in try statement.execute(parameters.map(\.mysqlValue)) }
    }

    /// Runs `body` with the statement prepared for `sql`, then reads the session's tracked state; a failure is
    /// judged as every statement's is (`failure`: a lost connection is closed).
    func withPrepared(_ sql: String, _ body: (MySQLPreparedStatement) throws(MySQLError) -> MySQLResult) throws(MySQLError) -> MySQLResult {
        let statement = try prepared(sql)
        do {
            let result = try body(statement)
            trackSession()
            return result
        } catch {
            throw failure(error)
        }
    }

    /// The statement prepared for `sql` on this connection: from the cache, or prepared now (the least recently used
    /// closed first when the cache is full).
    func prepared(_ sql: String) throws(MySQLError) -> MySQLPreparedStatement {
        let mysql = try requireHandle()
        uses &+= 1
        if let cached = statements[sql] {
            statements[sql] = (cached.statement, uses)
            return cached.statement
        }
        if statements.count >= max(1, configuration.statementCacheSize) { evictLeastRecentlyUsed() }
        do {
            let statement = try MySQLPreparedStatement(mysql: mysql, sql: sql)
            statements[sql] = (statement, uses)
            return statement
        } catch {
            throw failure(error)
        }
    }

    /// Closes (on the server too) the statement used longest ago. A linear scan: it runs only when a new text is
    /// prepared with the cache full, which a well-behaved caller (fixed statement texts) never reaches.
    private func evictLeastRecentlyUsed() {
        guard let oldest = statements.min(by: { $0.value.lastUse < $1.value.lastUse }) else { return }
        oldest.value.statement.close()
        statements.removeValue(forKey: oldest.key)
    }

    /// How many prepared statements this connection holds (for tests and metrics).
    public var preparedStatementCount: Int { statements.count }

    /// Rows of a prepared SELECT.
    public func select(_ sql: String, _ parameters: [any MySQLBindable] = []) throws(MySQLError) -> [MySQLRow] {
        try execute(sql, parameters).rows
    }

    public func begin() throws(MySQLError) {
        try query("START TRANSACTION")
        inTransaction = true
    }

    public func commit() throws(MySQLError) {
        defer { inTransaction = false }
        try query("COMMIT")
    }

    /// Starts a transaction and runs `statements` in it, in one round trip with `configuration.multiStatements`:
    /// each statement's rows, in order. On a failure the transaction may be open (`inTransaction`): roll it back.
    public func beginTransaction(with statements: [String]) throws(MySQLError) -> [[MySQLRow]] {
        inTransaction = true
        return try Array(script(["START TRANSACTION"] + statements).dropFirst())
    }

    /// Runs `statements`, then commits, in one round trip with `configuration.multiStatements`. The first statement
    /// that fails stops the rest (the commit too) and is thrown: the transaction is then still open, to roll back.
    /// A lost connection leaves it unknown whether the commit happened.
    public func commitTransaction(after statements: [String]) throws(MySQLError) {
        _ = try script(statements + ["COMMIT"])
        inTransaction = false
    }

    /// Rolls back; a failure to roll back closes the connection (the server rolls back when it goes).
    public func rollback() {
        defer { inTransaction = false }
        do { try query("ROLLBACK") } catch { close() }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: (MySQLConnection) throws -> T) throws -> T {
        try begin()
        do {
            let value = try body(self)
            try commit()
            return value
        } catch {
            if isOpen && inTransaction { rollback() }
            throw error
        }
    }

    /// A cheap round trip that detects a dead connection.
    public func ping() throws(MySQLError) {
        let mysql = try requireHandle()
        guard mysql_ping(mysql) == 0 else { throw failure(Self.error(of: mysql)) }
    }

    // MARK: Internals

    func requireHandle() throws(MySQLError) -> UnsafeMutablePointer<MYSQL> {
        guard let handle else { throw MySQLError(code: MySQLError.serverGone, message: "connection is closed") }
        return handle
    }

    /// A lost connection, or one whose answer the library could not read, is closed at once, so that the next use
    /// reconnects with an empty statement cache instead of reading a half-read answer.
    func failure(_ error: MySQLError) -> MySQLError {
        if error.isConnectionLost || error.isClientSide { close() }
        return error
    }

    /// Reads the GTID the server reported for the last commit (`last_gtid` on MariaDB, `OWN_GTID` on MySQL).
    func trackSession() {
        guard let handle else { return }
        var data: UnsafePointer<CChar>?
        var length = 0
        if isMariaDB {
            var isName = true
            var name = ""
            var status = mysql_session_track_get_first(handle, SESSION_TRACK_SYSTEM_VARIABLES, &data, &length)
            while status == 0 {
                let text = data.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
                if isName {
                    name = text
                } else if name == "last_gtid", !text.isEmpty {
                    lastGTID = text
                }
                isName.toggle()
                status = mysql_session_track_get_next(handle, SESSION_TRACK_SYSTEM_VARIABLES, &data, &length)
            }
        } else if mysql_session_track_get_first(handle, SESSION_TRACK_GTIDS, &data, &length) == 0, let data, length > 0 {
            lastGTID = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        }
    }

    static func error(of mysql: UnsafeMutablePointer<MYSQL>) -> MySQLError {
        MySQLError(code: mysql_errno(mysql), sqlState: String(cString: mysql_sqlstate(mysql)), message: String(cString: mysql_error(mysql)))
    }
}

/// `mysql_library_init` once per process, before the first connection (it is not thread-safe itself).
enum MySQLLibrary {
    private static let initialized = Mutex(false)

    static func initialize() {
        initialized.withLock { done in
            if !done {
                mysql_server_init(0, nil, nil)
                // Closing a connection whose server is gone (`closeIfClosedByServer`) writes to a dead socket: an EPIPE,
                // never a SIGPIPE that would end the process, whichever way the TLS library writes it (a CLI command has
                // no SwiftNIO to ignore the signal for it).
                signal(SIGPIPE, SIG_IGN)
                done = true
            }
        }
    }
}
