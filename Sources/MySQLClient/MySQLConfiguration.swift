/// Where and how to connect. Parsed from `mysql://user:password@host:port/database?option=value`.
///
/// Options: `connect_timeout`, `read_timeout`, `write_timeout` (seconds; `MYSQL_OPT_CONNECT_TIMEOUT`,
/// `MYSQL_OPT_READ_TIMEOUT`, `MYSQL_OPT_WRITE_TIMEOUT`), `tls` (`disabled`, `required`: `MYSQL_OPT_SSL_ENFORCE`,
/// `verify`: plus `MYSQL_OPT_SSL_VERIFY_SERVER_CERT`), `tls_ca` (`MYSQL_OPT_SSL_CA`), `socket` (a Unix socket path).
/// As with every MySQL client, host `localhost` means the Unix socket; use 127.0.0.1 for TCP.
public struct MySQLConfiguration: Sendable, Equatable {
    public enum TLSMode: String, Sendable { case disabled, required, verify }

    public var host = "127.0.0.1"
    public var port: UInt32 = 3306
    public var user = "root"
    public var password: String?
    public var database: String?
    public var unixSocket: String?
    public var connectTimeoutSeconds: UInt32 = 5
    public var readTimeoutSeconds: UInt32 = 30
    public var writeTimeoutSeconds: UInt32 = 30
    /// Prepared statements kept per connection; the least recently used one is closed past this. Bounded because
    /// every statement held counts against the server's `max_prepared_stmt_count` (16,382 by default), shared by
    /// every client of that server: an unbounded cache of generated statement texts could exhaust it.
    public var statementCacheSize = 128
    /// Statements running longer than this are stopped by the server (`max_statement_time` on MariaDB,
    /// `max_execution_time` on MySQL, which applies to SELECTs only): for connections that only read, so that no
    /// read can hold the server for longer. nil: no limit.
    public var statementTimeoutMillis: Int?
    public var tls: TLSMode = .disabled
    public var tlsCAFile: String?
    /// Statements run on every new connection, after a reconnect too (e.g. `SET SESSION TRANSACTION ISOLATION LEVEL ...`).
    public var sessionStatements: [String] = []
    /// Lets `MySQLConnection.beginTransaction(with:)` and `commitTransaction(after:)` send their statements in one
    /// round trip (`CLIENT_MULTI_STATEMENTS`); without it they send them one by one, with the same outcome.
    public var multiStatements = false
    /// Lets `MySQLConnection.supportsBulkExecution` say yes on a MariaDB server (URL option `bulk=off` to refuse).
    /// Off, every caller takes its text path, as on MySQL: for a proxy between Bazaar and MariaDB that does not pass
    /// bulk executions on, and for tests that hold both paths to the same outcome.
    public var bulkExecution = true

    public init() {}

    public init(url: String) throws(MySQLError) {
        func bad(_ why: String) -> MySQLError { MySQLError(code: MySQLError.invalidURL, message: "invalid mysql URL: \(why)") }
        guard url.hasPrefix("mysql://") else { throw bad("must start with mysql://") }
        var rest = Substring(url.dropFirst("mysql://".count))
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if let slash = rest.firstIndex(of: "/") {
            let name = rest[rest.index(after: slash)...]
            if !name.isEmpty { database = Self.percentDecoded(name) }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = Self.percentDecoded(credentials[..<colon])
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                user = Self.percentDecoded(credentials)
            }
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let number = UInt32(rest[rest.index(after: colon)...]), number > 0, number < 65536 else { throw bad("port must be 1-65535") }
            port = number
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw bad("names no host") }
        host = String(rest)
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0]), value = parts.count > 1 ? Self.percentDecoded(parts[1]) : ""
            func seconds() throws(MySQLError) -> UInt32 {
                guard let n = UInt32(value), n > 0 else { throw bad("\(key) must be a positive number of seconds") }
                return n
            }
            switch key {
            case "connect_timeout": connectTimeoutSeconds = try seconds()
            case "read_timeout": readTimeoutSeconds = try seconds()
            case "write_timeout": writeTimeoutSeconds = try seconds()
            case "tls":
                guard let mode = TLSMode(rawValue: value) else { throw bad("tls must be disabled, required or verify") }
                tls = mode
            case "tls_ca": tlsCAFile = value
            case "socket": unixSocket = value
            case "bulk":
                guard value == "on" || value == "off" else { throw bad("bulk must be on or off") }
                bulkExecution = value == "on"
            default: throw bad("unknown option \(key)")
            }
        }
    }

    /// The URL without its password, for logs.
    public var redacted: String {
        "mysql://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database ?? "")"
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
