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
        case .invalidVersion: what = "the protocol version must be HTTP/1.1 or HTTP/1.0"
        case .invalidHeaderToken: what = "a header field is malformed (a name must be a token: no spaces, no control characters)"
        case .invalidContentLength: what = "Content-Length must be one non-negative decimal integer, and not sent with Transfer-Encoding"
        case .unexpectedContentLength: what = "a request must not carry both Content-Length and Transfer-Encoding"
        case .invalidChunkSize: what = "a chunk of the chunked body does not start with a hexadecimal size"
        case .lfExpected, .invalidConstant, .invalidCharactersUsed: what = "the request's framing is malformed (each line must end with CRLF)"
        default: what = "the request is not valid HTTP/1.1 (\(error))"
        }
        return Problem(.badRequest, "malformed-http", "Malformed HTTP request", what, headers: [.connection: "close"])
    }
}

/// Gives the answer to a request the HTTP decoder refused the API's form: Hummingbird answers such a request with a
/// bare `400` and `Content-Length: 0` when it meets the decoder's error between requests (in order, after the
/// answers of the requests before it). This handler, after the HTTP/1 codec, notes the decoder's error as it passes
/// and turns that bare answer into the problem of `Problem.malformed` (431 for oversized headers). Errors met while
/// a body is being read reach the router instead, which maps them the same way.
final class MalformedRequestAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var decoderError: HTTPParserError?
    /// The problem's body, written before the end of the answer whose head was replaced.
    private var pendingBody: ByteBuffer?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError { decoderError = error }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where decoderError != nil && head.status == .badRequest && head.headerFields[.contentLength] == "0":
            let problem = Problem.malformed(decoderError!)
            let body = ByteBuffer(string: problem.json)
            var fields = problem.headers
            fields[.contentType] = "application/problem+json"
            fields[.contentLength] = String(body.readableBytes)
            pendingBody = body
            context.write(wrapOutboundOut(.head(HTTPResponse(status: problem.status, headerFields: fields))), promise: promise)
        case .end where pendingBody != nil:
            context.write(wrapOutboundOut(.body(pendingBody!)), promise: nil)
            pendingBody = nil
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}
