import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// The series of Hummingbird's `MetricsMiddleware` (`hb.requests`, `hb.request.errors`,
/// `http.server.request.duration`, `http.server.active_requests`, with the same labels), recorded once the handler
/// has its answer rather than once the answer is written.
///
/// Hummingbird's middleware learns when an answer is written by wrapping every body in a closure, and a closure body
/// is written part by part: the head, the body and the end each crossed to the connection's event loop and was
/// flushed alone (the end has no bytes of its own under a `Content-Length`), so every answer went out in two writes
/// and two TCP segments, and its client woke twice to read it (issue 15). Here a body of known length is left as the
/// handler made it, and Hummingbird writes its head, body and end in one flush. A stream (no length: the live feed)
/// is still timed, and counted active, to its end. So an answer of fixed length leaves `http.server.active_requests`
/// when it is handed to the connection, not once its client has taken it.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let series = RequestSeries()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let method = request.method
        let active = series.active(method)
        active.increment()
        do {
            var response = try await next(request, context)
            let endpoint = series.endpoint(context.endpointPath ?? "Unknown", method, response.status)
            // A HEAD answer's body is dropped by the router (`createHeadResponse`): count it now, not when it is written.
            guard response.body.contentLength == nil, method != .head else {
                endpoint.answered(since: started)
                active.decrement()
                return response
            }
            let body = response.body
            response.body = ResponseBody { writer in
                defer {
                    endpoint.answered(since: started)
                    active.decrement()
                }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let endpoint = series.endpoint(context.endpointPath ?? "NotFound", method, status)
            endpoint.requests.increment()
            endpoint.errors.increment()
            active.decrement()
            throw error
        }
    }
}

/// The metric objects of each method, and of each route, method and status, made once: the factory's lookup by label
/// and dimensions costs more than a dictionary's.
final class RequestSeries: Sendable {
    struct Endpoint: Sendable {
        let requests: Counter
        let duration: Metrics.Timer
        let errors: Counter

        func answered(since started: UInt64) {
            requests.increment()
            duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
        }
    }

    private struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private let methods = Mutex<[HTTPRequest.Method: Meter]>([:])
    private let endpoints = Mutex<[Key: Endpoint]>([:])

    func active(_ method: HTTPRequest.Method) -> Meter {
        methods.withLock { methods in
            if let meter = methods[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.description)])
            methods[method] = meter
            return meter
        }
    }

    func endpoint(_ route: String, _ method: HTTPRequest.Method, _ status: HTTPResponse.Status) -> Endpoint {
        endpoints.withLock { endpoints in
            let key = Key(route: route, method: method, status: status.code)
            if let endpoint = endpoints[key] { return endpoint }
            let dimensions = [("http.route", route), ("http.request.method", method.description), ("http.response.status_code", status.code.description)]
            let endpoint = Endpoint(
                requests: Counter(label: "hb.requests", dimensions: dimensions),
                duration: Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds),
                errors: Counter(label: "hb.request.errors", dimensions: [("http.route", route), ("http.request.method", method.description),
                                                                         ("error.type", status.code.description)]))
            endpoints[key] = endpoint
            return endpoint
        }
    }
}
