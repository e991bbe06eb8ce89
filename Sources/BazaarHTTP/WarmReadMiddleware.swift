import BazaarCore
import BazaarDomain
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// `GET /get-stock/{store_id}/{product_id}` answered from memory (issue 15): the first middleware of that route's
/// own group, ahead of authentication and consistency tokens. When this process holds the caller's key, a token of its
/// rate limit, both ids and the pair's level, the read costs what the trivial route costs plus those lookups, with no
/// further layer and no wait on anything.
///
/// It answers only what the rest of the route would answer with 200, with the same body and headers
/// (`WarmReadTests` holds the two side by side). Everything else goes on, untouched: a key to look up, a lease to
/// renew, a level to fetch, a consistency token to honour, and every refusal (401, 403, 404, 400, 429), which the
/// route then answers as it always did. Nothing here has a side effect before the answer is certain, save the
/// rate-limit token taken last, so a request that goes on is never counted twice.
struct WarmReadMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    static let answered = Counter(label: "bazaar_reads_from_memory_total")

    let keys: APIKeyService
    let limiter: any RateLimiter
    let stock: StockService
    /// Reads this router answered here (the metric counts the process's, which tests share).
    let count: ReadsFromMemory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get, let response = answer(request, context: context) { return response }
        return try await next(request, context)
    }

    /// The 200 the route would give, or nil to let it answer.
    func answer(_ request: Request, context: Context) -> Response? {
        // The ids as the controller reads them (`context.identifier`): an invalid one is the route's 400 to give.
        guard let storeID = try? context.identifier("store_id"), let productID = try? context.identifier("product_id"),
              !request.headers.contains(.consistency),
              let header = AuthMiddleware.authorization(request.headers), let key = AuthMiddleware.bearerKey(header), key.utf8.count <= 512,
              let principal = keys.principalInMemory(key: key), principal.may(.readStock(storeID: storeID)),
              let level = stock.levelInMemory(storeID: storeID, productID: productID),
              let decision = limiter.takeInMemory(principal.keyID)
        else { return nil }
        Self.answered.increment()
        count.add()
        stock.answeredFromMemory()
        return JSONResponse.make(level.readAnswerJSON(storeID: storeID, productID: productID), headers: AuthMiddleware.limitFields(decision))
    }
}

/// How many reads a router answered from memory (`WarmReadMiddleware`).
public final class ReadsFromMemory: Sendable {
    private let answered = Atomic<Int>(0)
    public init() {}
    func add() { answered.add(1, ordering: .relaxed) }
    public var count: Int { answered.load(ordering: .relaxed) }
}
