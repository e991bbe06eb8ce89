import BazaarCore
import BazaarDomain
import HTTPTypes
import Hummingbird

/// Authenticates `Authorization: Bearer <key>` and applies the caller's rate limit, answering with
/// `RateLimit-*` headers (and `Retry-After` on 429).
///
/// Failed authentications are limited per client address (`FailedAuthThrottle`): once an address has failed
/// too often, its requests get 429 `authentication-throttled` with `Retry-After` before any key lookup, except
/// those carrying a key this node has already seen authenticate, which keep working.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    let keys: APIKeyService
    let limiter: any RateLimiter
    let failures: FailedAuthThrottle

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = Self.authorization(request.headers) else {
            throw DomainError.unauthorized("send `Authorization: Bearer <api key>`")
        }
        guard let key = Self.bearerKey(header) else {
            throw DomainError.unauthorized("the Authorization header must be `Bearer <api key>`")
        }
        let address = context.clientAddress
        if let retryAfter = failures.throttled(address), !keys.isKnown(key: key) {
            throw Problem(.tooManyRequests, "authentication-throttled", "Too many failed authentications",
                          "this address sent too many unknown or revoked API keys; retry after \(retryAfter) s with a valid key",
                          headers: [.retryAfter: "\(retryAfter)"])
        }
        guard key.utf8.count <= 512 else {
            failures.recordFailure(address)
            throw DomainError.unauthorized("the API key is unknown or revoked")
        }
        let (found, queried) = try await keys.lookup(key: key)
        guard let principal = found else {
            // A key answered from memory cost nothing; a fresh guess cost a query, and counts.
            if queried { failures.recordFailure(address) }
            throw DomainError.unauthorized("the API key is unknown or revoked")
        }
        let decision = await limiter.take(principal.keyID)
        var limitHeaders = Self.limitFields(decision)
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

    /// The `RateLimit-*` fields of a decision, with room for `Retry-After`.
    static func limitFields(_ decision: TokenBucket.Decision) -> HTTPFields {
        var fields = HTTPFields()
        fields.reserveCapacity(4)
        fields.append(HTTPField(name: .rateLimitLimit, value: String(decision.limit)))
        fields.append(HTTPField(name: .rateLimitRemaining, value: String(decision.remaining)))
        fields.append(HTTPField(name: .rateLimitReset, value: String(decision.resetSeconds)))
        return fields
    }

    /// The `Authorization` value: a request's one field as it came (`headers[.authorization]` joins every field of
    /// the name into a new String, each request); several fields joined as before, which no key matches.
    static func authorization(_ headers: HTTPFields) -> String? {
        var found: String?
        for field in headers where field.name == .authorization {
            guard found == nil else { return headers[.authorization] }
            found = field.value
        }
        return found
    }

    /// The key of `Bearer <key>`: the scheme's case is free (RFC 9110 11.1), compared byte-wise (ASCII letters
    /// folded, nothing else: no String made per request); nil for any other scheme or an empty key.
    static func bearerKey(_ header: String) -> String? {
        guard header.utf8.count > 7,
              header.utf8.prefix(7).elementsEqual("bearer ".utf8, by: { (0x41...0x5A).contains($0) ? $0 | 0x20 == $1 : $0 == $1 })
        else { return nil }
        // RFC 9110 allows more than one space after the scheme: a client that sends two is not refused (and throttled).
        let key = header.utf8.dropFirst(7).drop { $0 == UInt8(ascii: " ") }
        return key.isEmpty ? nil : String(Substring(key))
    }
}
