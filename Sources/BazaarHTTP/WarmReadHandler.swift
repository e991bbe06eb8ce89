public import BazaarCore
import BazaarDomain
import Foundation
import HTTPTypes
import Hummingbird
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTPTypes
import Metrics
import Synchronization

/// Hummingbird's HTTP/1.1 child channel with `WarmReadHandler` placed right after its connection-state handler, so
/// that the state handler sees every request and answer (idle timeout, graceful shutdown) whichever path answers.
public struct WarmReadHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value
    let http1: HTTP1Channel
    let connection: WarmReadOnTheConnection

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Requests are logged at debug level by the router: with that level on, every request goes there.
            guard logger.logLevel > .debug else { return value }
            let pipeline = channel.pipeline.syncOperations
            let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
            try pipeline.addHandler(WarmReadHandler(connection), position: .after(state))
            return value
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

/// What a connection needs to answer a warm read before the router: the shared check, and what the router's
/// outer layers would have done (the address limit, the metrics, the request id, `Date` and `Server`).
public struct WarmReadOnTheConnection: Sendable {
    let read: WarmRead
    let addressLimit: AddressRateLimit?
    let serverName: String?
    /// Hummingbird's `MetricsMiddleware` series for this route's 200, which a read answered here also counts.
    let requests = Counter(label: "hb.requests", dimensions: Self.dimensions)
    let duration = Metrics.Timer(label: "http.server.request.duration", dimensions: Self.dimensions, preferredDisplayUnit: .seconds)
    static let route = "/get-stock/{store_id}/{product_id}"
    static let dimensions = [("http.route", route), ("http.request.method", "GET"), ("http.response.status_code", "200")]

    public init(read: WarmRead, addressLimit: AddressRateLimit?, serverName: String?) {
        self.read = read
        self.addressLimit = addressLimit
        self.serverName = serverName
    }

    /// The whole 200 for a request head, or nil to hand the request on. Only the plain form is taken: `GET`, no
    /// body, no `Connection` field but `keep-alive` (closing is the router's to manage), no query, exactly two path
    /// segments; anything else, a percent-encoded id included, goes on to the router, which answers it as before.
    func answer(_ head: HTTPRequest, address: () -> String) -> (head: HTTPResponse, body: String)? {
        guard head.method == .get, let path = head.path, let (storeID, productID) = Self.ids(path),
              Self.keepsAlive(head.headerFields), !head.headerFields.contains(.contentLength),
              !head.headerFields.contains(.transferEncoding), !head.headerFields.contains(.expect)
        else { return nil }
        let started = DispatchTime.now().uptimeNanoseconds
        // The address's token last but one, as the router takes it first: a refusal is the router's to answer.
        // When the key's own token is not in memory after it, the router takes the address's again: one token
        // more for a request in a lease's or a bucket's lifetime.
        guard let (json, limitFields) = read.answer(storeID: storeID, productID: productID, headers: head.headerFields,
                                                    beforeTheToken: { addressLimit?.take(address()) == nil })
        else { return nil }
        read.count.addOnTheConnection()
        var fields = limitFields
        fields.reserveCapacity(fields.count + 5)
        fields.append(HTTPField(name: .contentType, value: "application/json"))
        fields.append(HTTPField(name: .xRequestID, value: RequestID().description))
        fields.append(HTTPField(name: .contentLength, value: String(json.utf8.count)))
        fields.append(HTTPField(name: .date, value: HTTPDate.now()))
        if let serverName { fields.append(HTTPField(name: .server, value: serverName)) }
        requests.increment()
        duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
        return (HTTPResponse(status: .ok, headerFields: fields), json)
    }

    /// No `Connection` field, or one that asks for nothing but `keep-alive` (what browsers and test clients send).
    static func keepsAlive(_ fields: HTTPFields) -> Bool {
        var connection: Substring?
        for field in fields where field.name == .connection {
            guard connection == nil else { return false }
            connection = Substring(field.value)
        }
        guard let connection else { return true }
        return connection.utf8.elementsEqual("keep-alive".utf8, by: { ($0 | 0x20) == $1 })
    }

    /// The two ids of `/get-stock/{store_id}/{product_id}` when each is a valid identifier as it came (no escape
    /// to decode, no empty segment, no query).
    static func ids(_ path: String) -> (String, String)? {
        let prefix = "/get-stock/".utf8
        let bytes = path.utf8
        guard bytes.starts(with: prefix) else { return nil }
        let rest = bytes.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let store = Substring(rest[..<slash]), product = Substring(rest[bytes.index(after: slash)...])
        guard Identifier.isValid(String(store)), Identifier.isValid(String(product)) else { return nil }
        return (String(store), String(product))
    }
}

/// Answers a warm `GET /get-stock` on the connection's event loop (`WarmReadOnTheConnection`), and hands every
/// other request on to Hummingbird unchanged.
///
/// HTTP/1.1 answers requests in order, and Hummingbird answers a connection's requests one after another: so a
/// request is answered here only while no request handed on awaits its answer (a pipelining client's read behind
/// a write goes to the router, which answers it after the write's). Nor while the connection cannot take more
/// output: the router's writer waits for that, and a client that sends without reading is held back there.
final class WarmReadHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let connection: WarmReadOnTheConnection
    /// Requests handed on whose answer's end has not been written.
    private var awaitingAnswers = 0
    /// The request being read was answered here: its remaining parts are not handed on.
    private var answeredHere = false
    /// The peer's address as the router's context formats it, once per connection and only if asked.
    private var address: String?

    init(_ connection: WarmReadOnTheConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            answeredHere = false
            if awaitingAnswers == 0, context.channel.isWritable,
               let answer = connection.answer(head, address: { address(of: context.channel) }) {
                answeredHere = true
                context.write(wrapOutboundOut(.head(answer.head)), promise: nil)
                context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: answer.body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            awaitingAnswers += 1
        case .body, .end:
            if answeredHere { return }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only the router's answers pass here: this handler's own go out from its context, past it.
        if case .end = unwrapOutboundIn(data) { awaitingAnswers = max(0, awaitingAnswers - 1) }
        context.write(data, promise: promise)
    }

    private func address(of channel: any Channel) -> String {
        if let address { return address }
        let formatted = channel.remoteAddress?.ipAddress ?? "unknown"
        address = formatted
        return formatted
    }
}

/// The `Date` field (RFC 9110 5.6.7), formatted once a second for the whole process.
enum HTTPDate {
    private static let cached = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String {
        var seconds = time(nil)
        return cached.withLock { cached in
            if cached.second != seconds {
                cached = (seconds, format(&seconds))
            }
            return cached.text
        }
    }

    static func format(_ seconds: inout time_t) -> String {
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
