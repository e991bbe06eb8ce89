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
/// outer layers would have done (the address limit, the request id, `Server`; the handler adds `Date` and the
/// metrics).
public struct WarmReadOnTheConnection: Sendable {
    let read: WarmRead
    let addressLimit: AddressRateLimit?
    let serverName: String?
    static let route = "/get-stock/{store_id}/{product_id}"

    public init(read: WarmRead, addressLimit: AddressRateLimit?, serverName: String?) {
        self.read = read
        self.addressLimit = addressLimit
        self.serverName = serverName
    }

    /// The 200's fields (all but `Date`) and body for a request head, or nil to hand the request on. Only the plain
    /// form is taken: `GET`, no body, no `Connection` field but `keep-alive` (closing is the router's to manage), no
    /// query, exactly two path segments; anything else, a percent-encoded id included, goes on to the router, which
    /// answers it as before.
    func answer(_ head: HTTPRequest, address: () -> String) -> (fields: HTTPFields, body: String)? {
        guard head.method == .get, let path = head.path, let (storeID, productID) = Self.ids(path),
              Self.keepsAlive(head.headerFields), !head.headerFields.contains(.contentLength),
              !head.headerFields.contains(.transferEncoding), !head.headerFields.contains(.expect),
              let (json, limitFields) = read.answer(storeID: storeID, productID: productID, headers: head.headerFields,
                                                    address: addressLimit.map { ($0, address()) })
        else { return nil }
        read.count.addOnTheConnection()
        var fields = limitFields
        fields.reserveCapacity(fields.count + 5)
        fields.append(HTTPField(name: .contentType, value: "application/json"))
        fields.append(HTTPField(name: .xRequestID, value: RequestID().description))
        fields.append(HTTPField(name: .contentLength, value: String(json.utf8.count)))
        if let serverName { fields.append(HTTPField(name: .server, value: serverName)) }
        return (fields, json)
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
        let store = String(Substring(rest[..<slash])), product = String(Substring(rest[bytes.index(after: slash)...]))
        guard Identifier.isValid(store), Identifier.isValid(product) else { return nil }
        return (store, product)
    }
}

/// Answers a warm `GET /get-stock` on the connection's event loop (`WarmReadOnTheConnection`), and hands every
/// other request on to Hummingbird unchanged.
///
/// HTTP/1.1 answers requests in order, and Hummingbird answers a connection's requests one after another: so a
/// request is answered here only while no request handed on awaits its answer (a pipelining client's read behind
/// a write goes to the router, which answers it after the write's). Nor while the connection cannot take more
/// output: the router's writer waits for that, and a client that sends without reading is held back there. Nor
/// once the connection is closing (a request handed on asked for it, or the router closed its output): a request
/// after that is the router's to ignore.
final class WarmReadHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let connection: WarmReadOnTheConnection
    /// The `RequestMetricsMiddleware` series (Hummingbird's) for this route's 200, which a read answered here counts
    /// too. Made per connection, so that they are bound to the metrics backend bootstrapped by then.
    private let requests: Counter
    private let duration: Metrics.Timer
    /// Requests handed on whose answer's end has not been written.
    private var awaitingAnswers = 0
    /// The request being read was answered here: its remaining parts are not handed on.
    private var answeredHere = false
    /// A request handed on asked to close the connection, or its output was closed.
    private var closing = false
    /// The peer's address as the router's context formats it, once per connection and only if asked.
    private var address: String?
    private var date = HTTPDate()

    init(_ connection: WarmReadOnTheConnection) {
        self.connection = connection
        let dimensions = [("http.route", WarmReadOnTheConnection.route), ("http.request.method", "GET"), ("http.response.status_code", "200")]
        requests = Counter(label: "hb.requests", dimensions: dimensions)
        duration = Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            answeredHere = false
            if awaitingAnswers == 0, !closing, context.channel.isWritable {
                let started = DispatchTime.now().uptimeNanoseconds
                if let (fields, body) = connection.answer(head, address: { address(of: context.channel) }) {
                    answeredHere = true
                    var fields = fields
                    fields.append(HTTPField(name: .date, value: date.now()))
                    context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
                    context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: body))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                    requests.increment()
                    duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                    return
                }
            }
            awaitingAnswers += 1
            if !WarmReadOnTheConnection.keepsAlive(head.headerFields) { closing = true }
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

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        closing = true
        context.close(mode: mode, promise: promise)
    }

    private func address(of channel: any Channel) -> String {
        if let address { return address }
        let formatted = BazaarRequestContext.clientAddress(of: channel)
        address = formatted
        return formatted
    }
}

/// The `Date` field (RFC 9110 5.6.7), formatted when the second changes: one per connection, on its event loop.
struct HTTPDate {
    private var second = -1
    private var text = ""
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var seconds = time(nil)
        if seconds != second {
            second = seconds
            text = Self.format(&seconds)
        }
        return text
    }

    static func format(_ seconds: inout time_t) -> String {
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
