import NIOCore
import NIOPosix

/// What a subscription delivers.
public enum RedisPubSubEvent: Sendable, Equatable {
    /// (Re)subscribed: messages published while disconnected were missed, so caches fed by them must be dropped.
    case subscribed
    case message(channel: String, payload: String)
}

/// A dedicated pub/sub connection that resubscribes after every reconnect.
public struct RedisSubscriber: Sendable {
    public let configuration: RedisConfiguration
    public let channels: [String]

    public init(configuration: RedisConfiguration, channels: [String]) {
        self.configuration = configuration
        self.channels = channels
    }

    /// Runs until the task is cancelled, delivering events to `handle` in order.
    public func run(_ handle: @escaping @Sendable (RedisPubSubEvent) async -> Void) async {
        var delay = configuration.minBackoffMillis
        while !Task.isCancelled {
            let (stream, continuation) = AsyncStream.makeStream(of: RedisPubSubEvent.self)
            do {
                let connection = try await RedisConnection.connect(configuration) { push in
                    // RESP3 `>` pushes and RESP2 arrays alike: ["message", channel, payload].
                    guard push.count == 3, push[0].string == "message", let channel = push[1].string, let payload = push[2].string else { return }
                    continuation.yield(.message(channel: channel, payload: payload))
                }
                connection.sendExpectingPushes(["SUBSCRIBE"] + channels)
                connection.channel.closeFuture.whenComplete { _ in continuation.finish() }
                delay = configuration.minBackoffMillis
                await handle(.subscribed)
                await withTaskCancellationHandler {
                    for await event in stream { await handle(event) }
                } onCancel: {
                    connection.channel.close(promise: nil)
                }
            } catch {
                continuation.finish()
            }
            if Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(configuration.maxBackoffMillis, delay * 2)
        }
    }
}
