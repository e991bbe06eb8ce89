import BazaarCore
import Hummingbird

/// Requests per client address (the TCP peer), checked before authentication and before anything else reads the
/// request: over the limit, 429 `address-rate-limited` with `Retry-After`, having cost a table lookup.
struct AddressLimitMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    let limit: AddressRateLimit

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let retryAfter = limit.take(context.clientAddress) {
            throw Problem(.tooManyRequests, "address-rate-limited", "Too many requests from this address",
                          "this address sent more than \(Int(limit.ratePerSecond)) requests a second (bursts of \(Int(limit.burst))); "
                              + "retry after \(retryAfter) s, and spread the load over time",
                          headers: [.retryAfter: "\(retryAfter)"])
        }
        return try await next(request, context)
    }
}
