/// Everything the client reports.
public enum RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The server answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`).
    case server(String)
    /// No answer within the command timeout (the connection is then closed: replies would no longer match).
    case timeout
    /// The connection closed before the answer came.
    case connectionClosed
    /// Not connected and not retrying yet (reconnect backoff), or the client is closed.
    case unavailable(String)
    /// The server sent something that is not RESP.
    case protocolError(String)

    public var description: String {
        switch self {
        case .server(let message): "Redis error: \(message)"
        case .timeout: "Redis command timed out"
        case .connectionClosed: "Redis connection closed"
        case .unavailable(let why): "Redis unavailable: \(why)"
        case .protocolError(let why): "Redis protocol error: \(why)"
        }
    }

    /// The server-side error code (`NOSCRIPT`, `WRONGTYPE`...), for server errors.
    public var code: String? {
        if case .server(let message) = self { return message.split(separator: " ").first.map(String.init) }
        return nil
    }
}
