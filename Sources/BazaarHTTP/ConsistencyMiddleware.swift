import BazaarCore
import Hummingbird

/// Read-your-writes over replicas: a write answers its consistency token in `Bazaar-Consistency`; a request
/// that sends the token back reads data at least that fresh (see `ConsistencyScope`).
struct ConsistencyMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext

    /// Tokens are GTID positions (MariaDB `0-1-42`, MySQL `uuid:1-42`), possibly comma-separated.
    static let maxTokenLength = 2048

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requested = request.headers[.consistency]
        if let requested {
            guard !requested.isEmpty, requested.utf8.count <= Self.maxTokenLength,
                requested.utf8.allSatisfy({ byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ",")
                })
            else {
                throw Problem(.badRequest, "invalid-consistency-token", "Invalid consistency token",
                              "the Bazaar-Consistency header must be a token answered by an earlier write (a GTID such as 0-1-42)")
            }
        }
        let scope = ConsistencyScope(requested: requested)
        var response = try await ConsistencyScope.$current.withValue(scope) { try await next(request, context) }
        if let token = scope.writtenToken { response.headers[.consistency] = token }
        return response
    }
}
