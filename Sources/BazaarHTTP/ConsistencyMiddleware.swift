import BazaarCore
import Hummingbird

/// Read-your-writes over replicas: a write answers its consistency token in `Bazaar-Consistency`; a request
/// that sends the token back reads data at least that fresh (see `ConsistencyScope`).
///
/// Tokens are signed (`ConsistencyTokenSigner`): a token this deployment did not answer, or one that is
/// malformed, is refused with 400 before anything reaches storage, so no key can make a replica connection wait
/// on a position of its choosing. With `signer` nil (SQLite: no replicas, every read sees every write, and no
/// token is ever answered) the header is ignored without being read further (there is nothing to wait for), save its
/// length: the contract bounds it on every engine.
struct ConsistencyMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    let signer: ConsistencyTokenSigner?

    static let invalid = Problem(.badRequest, "invalid-consistency-token", "Invalid consistency token",
                                 "the Bazaar-Consistency header must be a token exactly as a write of this service answered it "
                                     + "(`<position>.<signature>`, such as 0-1-42.3f9c...), or left out; a token of another deployment, "
                                     + "or from before its key changed, is not accepted")

    /// A position of at most `maxPositionLength` bytes, a dot and 32 hex digits.
    static let maxTokenLength = ConsistencyTokenSigner.maxPositionLength + 33

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let signer else {
            if let token = request.headers[.consistency], token.utf8.count > Self.maxTokenLength { throw Self.invalid }
            return try await next(request, context)
        }
        var position: String?
        if let token = request.headers[.consistency] {
            guard token.utf8.count <= Self.maxTokenLength, let checked = signer.position(of: token) else { throw Self.invalid }
            position = checked
        }
        let scope = ConsistencyScope(requested: position)
        var response = try await ConsistencyScope.$current.withValue(scope) { try await next(request, context) }
        if let written = scope.writtenToken { response.headers[.consistency] = signer.sign(written) }
        return response
    }
}
