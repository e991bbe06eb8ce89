public import NIOCore
import NIOConcurrencyHelpers
public import NIOPosix
import NIOSSL

/// One connection: commands are written as they come and answered in order, so any number may be in flight
/// (pipelining). Out-of-band pushes (pub/sub messages) go to `onPush`.
public final class RedisConnection: Sendable {
    let channel: any Channel
    let configuration: RedisConfiguration

    private init(channel: any Channel, configuration: RedisConfiguration) {
        self.channel = channel
        self.configuration = configuration
    }

    /// A client context that verifies the server's chain (against `caFile`, else the system's roots) and name.
    static func tlsContext(_ tls: RedisConfiguration.TLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let caFile = tls.caFile { configuration.trustRoots = .file(caFile) }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Connects, then negotiates: `HELLO 3` (with AUTH) for RESP3, else `AUTH`; then `SELECT` the database.
    public static func connect(
        _ configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onPush: (@Sendable ([RESPValue]) -> Void)? = nil
    ) async throws -> RedisConnection {
        let tls = try configuration.tls.map { try Self.tlsContext($0) }
        // SNI takes a name, never an address; with an address the certificate is checked against the peer's IP.
        let serverHostname = (try? SocketAddress(ipAddress: configuration.host, port: 0)) == nil ? configuration.host : nil
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(configuration.connectTimeoutMillis)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                }
            }
            .connect(host: configuration.host, port: configuration.port).get()
        let connection = RedisConnection(channel: channel, configuration: configuration)
        do {
            // The TLS handshake finishes before the first answer: a refused certificate fails this first command.
            if configuration.protocolVersion == 3 {
                var hello = ["HELLO", "3"]
                if let password = configuration.password { hello += ["AUTH", configuration.username ?? "default", password] }
                _ = try await connection.send(hello)
            } else if let password = configuration.password {
                _ = try await connection.send(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
            }
            if configuration.database != 0 { _ = try await connection.send(["SELECT", String(configuration.database)]) }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    public var isActive: Bool { channel.isActive }

    /// One command; an error reply throws `RedisError.server`.
    public func send(_ command: [String]) async throws -> RESPValue {
        let reply = try await pipeline([command])[0]
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// Several commands in one write; their replies in order (error replies as `.error` values).
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        // Checked before any promise exists: a promise dropped uncompleted is a crash in debug builds.
        guard channel.isActive else { throw RedisError.connectionClosed }
        guard !commands.isEmpty else { return [] }
        let promises = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        let request = RedisRequest(commands: commands, promises: promises, expectsReply: true)
        // Set on the event loop when the last reply arrives. After a stall of the loop longer than the timeout, the
        // loop reads the replies first and runs the timeout task next, before the waiting task can cancel it: that
        // task must then leave alone a connection whose replies all came (closing it failed other callers' commands
        // in flight on it with "connection closed").
        let answered = NIOLockedValueBox(false)
        promises[promises.count - 1].futureResult.whenComplete { _ in answered.withLockedValue { $0 = true } }
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(configuration.commandTimeoutMillis))) { [channel] in
            guard !answered.withLockedValue({ $0 }) else { return }
            // Replies would no longer match their commands: drop the connection. (A promise completed twice keeps
            // its first result, so failing those already answered is harmless.)
            for promise in promises { promise.fail(RedisError.timeout) }
            channel.close(promise: nil)
        }
        // A write that never reached the handler (the channel closed meanwhile) must still answer its callers.
        channel.writeAndFlush(request).whenFailure { _ in
            for promise in promises { promise.fail(RedisError.connectionClosed) }
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(promises.count)
        do {
            for promise in promises { replies.append(try await promise.futureResult.get()) }
        } catch {
            timeout.cancel()
            throw error
        }
        timeout.cancel()
        return replies
    }

    /// Writes commands whose answers arrive as pushes (SUBSCRIBE on RESP3).
    func sendExpectingPushes(_ command: [String]) {
        channel.writeAndFlush(RedisRequest(commands: [command], promises: [], expectsReply: false), promise: nil)
    }

    public func close() async {
        try? await channel.close()
    }
}

struct RedisRequest {
    var commands: [[String]]
    var promises: [EventLoopPromise<RESPValue>]
    var expectsReply: Bool
}

/// Encodes requests, decodes replies and matches them to their promises in order.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private var buffer = ByteBuffer()
    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>()
    private let onPush: (@Sendable ([RESPValue]) -> Void)?

    init(onPush: (@Sendable ([RESPValue]) -> Void)?) { self.onPush = onPush }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands { RESPParser.encode(command, into: &out) }
        pending.append(contentsOf: request.promises)
        context.write(wrapOutboundOut(out), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let value = try RESPParser.parse(&buffer) {
                if case .push(let values) = value {
                    onPush?(values)
                } else if let promise = pending.popFirst() {
                    promise.succeed(value)
                } else if let values = value.array, onPush != nil {
                    onPush?(values)  // RESP2 pub/sub: messages are plain arrays
                }
            }
            buffer.discardReadBytes()
        } catch {
            failAll(RedisError.protocolError("\(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError.connectionClosed)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let promise = pending.popFirst() { promise.fail(error) }
    }
}
