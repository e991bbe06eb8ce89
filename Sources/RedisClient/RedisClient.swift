import Crypto
public import NIOCore
public import NIOPosix
import Synchronization

/// A pool of pipelined connections with reconnect and backoff.
///
/// Commands go round robin over `configuration.connections` connections. A connection that fails is replaced on
/// next use; while a reconnect is backing off, commands on it fail at once with `RedisError.unavailable`, so a dead
/// server costs callers nothing but an error.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let slots: [Slot]
    private let next = Atomic(0)
    private let group: any EventLoopGroup

    public init(configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.slots = (0..<max(1, configuration.connections)).map { _ in Slot() }
    }

    public func send(_ command: [String]) async throws -> RESPValue {
        try await connection().send(command)
    }

    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        try await connection().pipeline(commands)
    }

    /// Runs a Lua script by its SHA-1 (`EVALSHA`); when the server does not know it (`NOSCRIPT`, e.g. after a
    /// restart, a failover or `SCRIPT FLUSH`), runs it with its source (`EVAL`, which also caches it). Not `SCRIPT
    /// LOAD` then `EVALSHA`: a flush between the two failed the command.
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPValue {
        do {
            return try await send(["EVALSHA", script.sha1, String(keys.count)] + keys + arguments)
        } catch let error as RedisError where error.code == "NOSCRIPT" {
            return try await send(["EVAL", script.source, String(keys.count)] + keys + arguments)
        }
    }

    /// Closes every connection; later commands fail.
    public func close() async {
        for slot in slots { await slot.close() }
    }

    private func connection() async throws -> RedisConnection {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue % slots.count
        return try await slots[index].connection(configuration: configuration, group: group)
    }
}

/// One pooled connection, reopened with exponential backoff.
private final class Slot: Sendable {
    private enum State {
        case idle
        case connected(RedisConnection)
        case connecting(Task<RedisConnection, any Error>)
        case backingOff(until: ContinuousClock.Instant, delayMillis: Int, error: String)
        case closed
    }

    private let state = Mutex(State.idle)

    private enum Acquired {
        case ready(RedisConnection)
        case pending(Task<RedisConnection, any Error>)
    }

    func connection(configuration: RedisConfiguration, group: any EventLoopGroup) async throws -> RedisConnection {
        let acquired: Acquired = try state.withLock { state in
            switch state {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let task):
                return .pending(task)
            case .backingOff(let until, _, let error) where ContinuousClock.now < until:
                throw RedisError.unavailable(error)
            case .closed:
                throw RedisError.unavailable("client closed")
            default:
                let previousDelay: Int
                if case .backingOff(_, let delay, _) = state { previousDelay = delay } else { previousDelay = 0 }
                let task = Task { () async throws -> RedisConnection in
                    do {
                        let connection = try await RedisConnection.connect(configuration, group: group)
                        self.state.withLock { $0 = .connected(connection) }
                        return connection
                    } catch {
                        let delay = min(configuration.maxBackoffMillis, max(configuration.minBackoffMillis, previousDelay * 2))
                        self.state.withLock {
                            $0 = .backingOff(until: .now + .milliseconds(delay), delayMillis: delay, error: "\(error)")
                        }
                        throw RedisError.unavailable("\(error)")
                    }
                }
                state = .connecting(task)
                return .pending(task)
            }
        }
        switch acquired {
        case .ready(let connection): return connection
        case .pending(let task): return try await task.value
        }
    }

    func close() async {
        let connection: RedisConnection? = state.withLock { state in
            defer { state = .closed }
            if case .connected(let connection) = state { return connection }
            return nil
        }
        await connection?.close()
    }
}

/// A Lua script and its SHA-1, for `RedisClient.run`.
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }
}
