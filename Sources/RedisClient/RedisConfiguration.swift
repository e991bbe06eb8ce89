/// Where and how to connect: `redis://[user:password@]host:port[/db][?timeout_ms=100&connections=4&protocol=3]`,
/// or `rediss://` for TLS (the server's certificate verified against the system's roots, or `tls_ca=/path/ca.pem`,
/// and its name, or its IP address when the host is one).
public struct RedisConfiguration: Sendable, Equatable {
    /// TLS to the server: always verified (chain and name); there is deliberately no option to skip verification.
    public struct TLS: Sendable, Equatable {
        /// PEM file of the certificate authorities to trust instead of the system's.
        public var caFile: String?
        public init(caFile: String? = nil) { self.caFile = caFile }
    }
    public var host = "127.0.0.1"
    public var port = 6379
    /// nil: plain TCP (`redis://`).
    public var tls: TLS?
    public var username: String?
    public var password: String?
    public var database = 0
    /// 2 (RESP2) or 3 (RESP3, negotiated with `HELLO 3`).
    public var protocolVersion = 3
    /// Connections in the pool; commands are pipelined on each.
    public var connections = 4
    /// A command not answered within this fails with `RedisError.timeout` (and its connection is dropped).
    public var commandTimeoutMillis = 100
    public var connectTimeoutMillis = 500
    /// Reconnect backoff: first delay, doubling up to `maxBackoffMillis`.
    public var minBackoffMillis = 50
    public var maxBackoffMillis = 2000

    public init() {}

    public init(url: String) throws(RedisError) {
        var rest: Substring
        if url.hasPrefix("rediss://") {
            tls = TLS()
            rest = url.dropFirst("rediss://".count)
        } else if url.hasPrefix("redis://") {
            rest = url.dropFirst("redis://".count)
        } else {
            throw Self.invalid("must start with redis:// (or rediss:// for TLS)")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        try read(address: rest)
        try read(options: query)
    }

    /// `[[user]:password@]host[:port][/db]`: a lone `password@` is a password (Redis before 6 has no users).
    private mutating func read(address: Substring) throws(RedisError) {
        var rest = address
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else { throw Self.invalid("the database must be a number") }
                database = number
            }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else { throw Self.invalid("port must be 1-65535") }
            port = number
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw Self.invalid("names no host") }
        host = String(rest)
    }

    /// `timeout_ms`, `connect_timeout_ms`, `connections`, `protocol` (positive numbers) and `tls_ca` (a path).
    private mutating func read(options query: Substring) throws(RedisError) {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == "tls_ca" {
                guard tls != nil else { throw Self.invalid("tls_ca needs a rediss:// URL") }
                tls?.caFile = String(parts[1])
                continue
            }
            guard parts.count == 2, let value = Int(parts[1]), value > 0 else { throw Self.invalid("option \(pair) needs a positive number") }
            switch parts[0] {
            case "timeout_ms": commandTimeoutMillis = value
            case "connect_timeout_ms": connectTimeoutMillis = value
            case "connections": connections = value
            case "protocol":
                guard value == 2 || value == 3 else { throw Self.invalid("protocol must be 2 or 3") }
                protocolVersion = value
            default: throw Self.invalid("unknown option \(parts[0])")
            }
        }
    }

    private static func invalid(_ why: String) -> RedisError { .unavailable("invalid redis URL: \(why)") }
}
