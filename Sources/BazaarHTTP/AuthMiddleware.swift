import BazaarCore
import BazaarDomain
import Hummingbird

/// Authenticates `Authorization: Bearer <key>` and applies the caller's rate limit, answering with
/// `RateLimit-*` headers (and `Retry-After` on 429).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    let keys: APIKeyService
    let limiter: any RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw DomainError.unauthorized("send `Authorization: Bearer <api key>`")
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw DomainError.unauthorized("the Authorization header must be `Bearer <api key>`")
        }
        let key = String(header.dropFirst(7))
        guard key.utf8.count <= 512, let principal = try await keys.authenticate(key: key) else {
            throw DomainError.unauthorized("the API key is unknown or revoked")
        }
        let decision = await limiter.take(principal.keyID)
        var limitHeaders: HTTPFields = [
            .rateLimitLimit: "\(decision.limit)", .rateLimitRemaining: "\(decision.remaining)", .rateLimitReset: "\(decision.resetSeconds)",
        ]
        guard decision.allowed else {
            limitHeaders[.retryAfter] = "\(decision.retryAfterSeconds)"
            throw Problem(.tooManyRequests, "rate-limited", "Too many requests",
                          "API key '\(principal.name)' is over its limit of \(decision.limit) requests; retry after \(decision.retryAfterSeconds) s",
                          headers: limitHeaders)
        }
        var context = context
        context.principal = principal
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: limitHeaders)
            return response
        } catch {
            // Refusals carry the rate-limit headers too, so clients can pace themselves on every answer.
            var problem: Problem
            switch error {
            case let p as Problem: problem = p
            case let d as DomainError: problem = Problem(d)
            case let d as DecodingError: problem = Problem.decoding(d)
            default: throw error
            }
            problem.headers.append(contentsOf: limitHeaders)
            throw problem
        }
    }
}
