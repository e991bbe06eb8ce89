import Hummingbird
public import HummingbirdCore
import NIOCore
import NIOHTTPTypes

extension HTTPServerBuilder {
    /// HTTP/1.1 with bounds against slow clients, which would otherwise hold a connection (and its memory) for as
    /// long as they like:
    /// - `idleTimeout`: a connection with nothing to read or write for this long is closed (an idle keep-alive
    ///   connection, or a request that stopped arriving: Hummingbird's idle handler);
    /// - `readTimeout`: once the first byte of a request has arrived, its head and body must be complete within
    ///   this, however steadily they trickle in (a slowloris client sends a byte every few seconds and is never
    ///   idle). The time the service then takes to answer is not counted.
    ///
    /// With `warmReads`, a warm `GET /get-stock` is answered on the connection, before the router (`WarmReadHandler`).
    public static func bazaarHTTP1(idleTimeout: Duration, readTimeout: Duration, warmReads: WarmReadOnTheConnection? = nil) -> HTTPServerBuilder {
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestReadDeadline(timeout: TimeAmount(readTimeout)), MalformedRequestAnswer()],
            idleTimeout: TimeAmount(idleTimeout))
        guard let warmReads else { return .http1(configuration: configuration) }
        return HTTPServerBuilder { responder in
            WarmReadHTTP1Channel(http1: HTTP1Channel(responder: responder, configuration: configuration), connection: warmReads)
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Closes a connection whose request takes longer than `timeout` to arrive, counted from its first byte.
///
/// Two handlers share the work: this one sits after the HTTP decoder and sees where a request ends (`.end`);
/// at `handlerAdded` it puts a `FirstByteWatch` at the front of the pipeline, which sees raw bytes and so when
/// a request starts, even one whose head never completes. Both run on the channel's event loop.
///
/// A request only notes when it started: the one timer of a connection is scheduled when a request starts and none
/// is pending, and is never cancelled by a request's end. When it fires it closes the connection if the request
/// being read started `timeout` ago or more, waits again for the rest of that request's time if one is being read,
/// and otherwise lapses. Scheduling and cancelling a timer for every request cost a keep-alive client's request a
/// heap insertion and removal on the event loop (measured: 1-2% of a cached read's CPU); this costs it a clock read.
final class RequestReadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// When the request being read started: between its first byte and its `.end`; nil between requests.
    private var readingSince: NIODeadline?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.pipeline.syncOperations.addHandler(FirstByteWatch(owner: self), position: .first)
    }

    func handlerRemoved(context: ChannelHandlerContext) { cancelTimer() }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: start(context.channel)  // a pipelined request decoded from bytes that already arrived
        case .body: break
        case .end: readingSince = nil
        }
        context.fireChannelRead(data)
    }

    /// Called by `FirstByteWatch` for every chunk of bytes read.
    func bytesArrived(_ channel: any Channel) { start(channel) }

    private func start(_ channel: any Channel) {
        guard readingSince == nil else { return }
        let now = NIODeadline.now()
        readingSince = now
        // A pending timer was set for an earlier request, so it fires before this one's time is up.
        if timer == nil { schedule(channel, at: now + timeout) }
    }

    private func schedule(_ channel: any Channel, at deadline: NIODeadline) {
        timer = channel.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self, channel] in
            timer = nil
            guard let since = readingSince else { return }  // between requests: nothing to watch
            let due = since + timeout
            if due <= .now() { channel.close(promise: nil) } else { schedule(channel, at: due) }
        }
    }

    private func cancelTimer() {
        readingSince = nil
        timer?.cancel()
        timer = nil
    }
}

/// Sees the connection's raw bytes (first in the pipeline) and tells `RequestReadDeadline` when they arrive.
final class FirstByteWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let owner: RequestReadDeadline

    init(owner: RequestReadDeadline) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.bytesArrived(context.channel)
        context.fireChannelRead(data)
    }
}
