import BazaarCore
import BazaarDomain
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// `GET /get-stock/{store_id}/{product_id}` answered from memory, ahead of the router (issue 15): when this process
/// holds the caller's key, a token of its rate limit, both ids and the pair's level, the read costs what the trivial
/// route costs plus those lookups, without the route's parameter matching, the authentication and consistency layers
/// or a wait on anything.
///
/// It answers only what the full path would answer with 200, with the same body and headers (`WarmReadTests` holds
/// the two side by side). Everything else goes on to the router, untouched: a key to look up, a lease to renew, a
/// level to fetch, a consistency token to honour, and every refusal (401, 403, 404, 400, 429), which the full path
/// then answers as it always did. Nothing here has a side effect before the answer is certain, save the rate-limit
/// token taken last, so a request that goes on is never counted twice.
struct WarmReadMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    /// The route's path as the router names it (the `endpoint` label of the HTTP metrics).
    static let endpoint = RouterPath(StockController.getStockPath).description
    static let prefix = "/get-stock/"
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

    /// The 200 the full path would give, or nil to let it answer.
    func answer(_ request: Request, context: Context) -> Response? {
        guard let (storeID, productID) = Self.pair(inPath: request.uri.path), !request.headers.contains(.consistency),
              let header = AuthMiddleware.authorization(request.headers), let key = AuthMiddleware.bearerKey(header), key.utf8.count <= 512,
              let principal = keys.principalInMemory(key: key), principal.may(.readStock(storeID: storeID)),
              let level = stock.levelInMemory(storeID: storeID, productID: productID),
              let decision = limiter.takeInMemory(principal.keyID)
        else { return nil }
        context.coreContext.endpointPath.value = Self.endpoint
        Self.answered.increment()
        count.add()
        return JSONResponse.make(level.readAnswerJSON(storeID: storeID, productID: productID), headers: AuthMiddleware.limitFields(decision))
    }

    /// The two identifiers of `/get-stock/<store>/<product>`, percent-decoded and valid as the route's
    /// `context.identifier` reads them; nil for any other path (a segment more or less, an empty or invalid one).
    static func pair(inPath path: String) -> (String, String)? {
        let utf8 = path.utf8
        guard utf8.count > prefix.utf8.count, utf8.starts(with: prefix.utf8) else { return nil }
        let rest = utf8.dropFirst(prefix.utf8.count)
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let product = rest[rest.index(after: slash)...]
        guard !product.contains(UInt8(ascii: "/")),
              let storeID = PercentDecoding.decode(String(Substring(rest[..<slash]))), Identifier.isValid(storeID),
              let productID = PercentDecoding.decode(String(Substring(product))), Identifier.isValid(productID)
        else { return nil }
        return (storeID, productID)
    }
}

/// How many reads a router answered from memory (`WarmReadMiddleware`).
public final class ReadsFromMemory: Sendable {
    private let answered = Atomic<Int>(0)
    public init() {}
    func add() { answered.add(1, ordering: .relaxed) }
    public var count: Int { answered.load(ordering: .relaxed) }
}
