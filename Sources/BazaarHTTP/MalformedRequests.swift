import HTTPTypes
import NIOCore
public import NIOHTTP1
import NIOHTTPTypes

extension Problem {
    /// A request the HTTP/1.1 decoder refused: 431 for header fields past the decoder's limits (80 KiB, 1,000 fields),
    /// else 400 naming what broke. The connection closes after it: the bytes that follow cannot be trusted to start a
    /// request.
    public static func malformed(_ error: HTTPParserError) -> Problem {
        if error == .headerOverflow {
            return Problem(.init(code: 431, reasonPhrase: "Request Header Fields Too Large"), "header-too-large", "Request header fields too large",
                           "the request's header fields exceed 80 KiB (or 1,000 fields): send only the headers the API reads",
                           headers: [.connection: "close"])
        }
        let what: String
        switch error {
        case .invalidMethod: what = "the method is not a valid token"
        case .invalidURL, .invalidHost, .invalidPort, .invalidPath, .invalidQueryString, .invalidFragment:
            what = "the request target is not a valid URI (percent-encode spaces and other reserved characters)"
        case .invalidHeaderToken: what = "a header field is malformed (a name must be a token: no spaces, no control characters)"
        case .invalidContentLength, .unexpectedContentLength:
            what = "Content-Length must be one non-negative decimal integer, sent once, and not with Transfer-Encoding"
        case .invalidChunkSize: what = "a chunk of the chunked body does not start with a hexadecimal size"
        default:
            what = "the request is not valid HTTP/1.1: the request line is `METHOD /path HTTP/1.1` (spaces in the path "
                + "percent-encoded), every line ends with CRLF, and a body is framed by one Content-Length or by "
                + "Transfer-Encoding: chunked with each chunk's size matching its data"
        }
        return Problem(.badRequest, "malformed-http", "Malformed HTTP request", what, headers: [.connection: "close"])
    }
}

/// Keeps the connection's framing when the HTTP decoder cannot: after the HTTP/1 codec, it sees every request's head
/// and every answer (those the connection answers itself too), in order.
/// - A request the decoder refused: Hummingbird answers it with a bare `400` and `Content-Length: 0` once it meets the
///   decoder's error, after the answers of the requests before it. This turns that answer into the problem of
///   `Problem.malformed` (431 for oversized headers). When the error came inside the body of a request that has its
///   own answer already (a route that did not read the body), that second answer is not sent: the connection closes.
/// - `CONNECT`: the decoder takes what follows as a tunnel's bytes and NIO's encoder sends no body with the answer, so
///   the answer (404 or 405, its head alone) says `Connection: close` and the connection closes after it: a request
///   pipelined behind it would otherwise wait for an answer that never comes.
/// Errors met while a body is being read by its route reach the router instead, which maps them the same way.
final class MalformedRequestAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var decoderError: HTTPParserError?
    /// The decoder failed between a request's head and its end: that request is answered by its route.
    private var failedInsideARequest = false
    private var readingARequest = false
    /// Whether each request whose answer has not ended is a `CONNECT`, oldest first.
    private var awaiting: [Bool] = []
    /// The bare answer being replaced (`.some(nil)`: dropped) and, when replaced, the problem's body.
    private var replacing: ByteBuffer??

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            readingARequest = true
            awaiting.append(head.method == .connect)
        case .body: break
        case .end: readingARequest = false
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError {
            decoderError = error
            failedInsideARequest = readingARequest
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where decoderError != nil && head.status == .badRequest && head.headerFields[.contentLength] == "0"
            && head.headerFields[.contentType] == nil:
            if failedInsideARequest && awaiting.isEmpty {
                replacing = .some(nil)  // the request whose body broke had its answer: none more
                promise?.succeed()
                return
            }
            let problem = Problem.malformed(decoderError!)
            let body = ByteBuffer(string: problem.json)
            var fields = problem.headers
            fields[.contentType] = "application/problem+json"
            fields[.contentLength] = String(body.readableBytes)
            replacing = .some(body)
            context.write(wrapOutboundOut(.head(HTTPResponse(status: problem.status, headerFields: fields))), promise: promise)
        case .head(var head) where awaiting.first == true:
            head.headerFields[.connection] = "close"
            head.headerFields[.contentLength] = nil
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body where replacing != nil:
            promise?.succeed()
        case .end where replacing != nil:
            if let body = replacing! {
                context.write(wrapOutboundOut(.body(body)), promise: nil)
                context.write(data, promise: promise)  // Hummingbird closes the connection after it
            } else {
                promise?.succeed()
                context.flush()  // what was written before goes out before the close
                context.close(promise: nil)
            }
            replacing = nil
        case .end:
            let wasConnect = awaiting.isEmpty ? false : awaiting.removeFirst()
            context.write(data, promise: promise)
            if wasConnect {
                context.flush()
                context.close(promise: nil)
            }
        default:
            context.write(data, promise: promise)
        }
    }
}
