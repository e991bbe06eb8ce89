import BazaarCore
import BazaarDomain
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// `GET /get-stock/{store_id}/{product_id}` answered from memory (issue 15), in two places that share this check:
/// - on the connection, before Hummingbird decodes the request into a task (`WarmReadHandler`), for the plain
///   request the peer's and most clients' reads are;
/// - as the first middleware of that route's own group (`WarmReadMiddleware`), for what the connection hands on
///   (percent-encoded ids, a request behind another on a pipelined connection).
///
/// When this process holds the caller's key, a token of its rate limit, both ids and the pair's level, the read
/// costs those lookups and no wait on anything. It answers only what the full route would answer with 200, with
/// the same body and fields (`WarmReadTests` holds them side by side). Everything else goes on untouched: a key to
/// look up, a lease to renew, a level to fetch, a consistency token to honour, and every refusal (401, 403, 404,
/// 400, 429), which the route then answers as it always did. Nothing here has a side effect before the answer is
/// certain, save the tokens taken last, so a request that goes on is not counted twice.
public struct WarmRead: Sendable {
    static let answered = Counter(label: "bazaar_reads_from_memory_total")

    let keys: APIKeyService
    let limiter: any RateLimiter
    let stock: StockService
    /// Reads answered here (the metric counts the process's, which tests share).
    let count: ReadsFromMemory

    /// The body and `RateLimit-*` fields of the 200 the route would give, or nil to let the route answer.
    /// `address`, on the connection, is the per-address limit the router applies first: asked before the key's
    /// token is taken (nothing spent for a request the route will refuse), and its token taken after. Only when
    /// another request spent the address's last token in between does a request that goes on cost its key a token.
    func answer(storeID: String, productID: String, headers: HTTPFields,
                address: (limit: AddressRateLimit, of: String)? = nil) -> (json: String, fields: HTTPFields)? {
        guard !headers.contains(.consistency),
              let header = AuthMiddleware.authorization(headers), let key = AuthMiddleware.bearerKey(header), key.utf8.count <= 512,
              let principal = keys.principalInMemory(key: key), principal.may(.readStock(storeID: storeID)),
              let level = stock.levelInMemory(storeID: storeID, productID: productID),
              address.map({ $0.limit.wouldAllow($0.of) }) ?? true,
              let decision = limiter.takeInMemory(principal.keyID),
              address.map({ $0.limit.take($0.of) == nil }) ?? true
        else { return nil }
        Self.answered.increment()
        count.add()
        stock.answeredFromMemory()
        return (level.readAnswerJSON(storeID: storeID, productID: productID), AuthMiddleware.limitFields(decision))
    }
}

/// The route's own first middleware: answers from memory what the connection handed on (see `WarmRead`).
struct WarmReadMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    let read: WarmRead

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get, let response = answer(request, context: context) { return response }
        return try await next(request, context)
    }

    /// The 200 the route would give, or nil to let it answer.
    func answer(_ request: Request, context: Context) -> Response? {
        // The ids as the controller reads them (`context.identifier`): an invalid one is the route's 400 to give.
        guard let storeID = try? context.identifier("store_id"), let productID = try? context.identifier("product_id"),
              let (json, fields) = read.answer(storeID: storeID, productID: productID, headers: request.headers)
        else { return nil }
        return JSONResponse.make(json, headers: fields)
    }
}

/// How many reads a router answered from memory (`WarmRead`), and how many of them on the connection.
public final class ReadsFromMemory: Sendable {
    private let answered = Atomic<Int>(0)
    private let answeredOnTheConnection = Atomic<Int>(0)
    public init() {}
    func add() { answered.add(1, ordering: .relaxed) }
    func addOnTheConnection() { answeredOnTheConnection.add(1, ordering: .relaxed) }
    /// Every read answered from memory.
    public var count: Int { answered.load(ordering: .relaxed) }
    /// Those answered on the connection, before the router (`WarmReadHandler`).
    public var onTheConnection: Int { answeredOnTheConnection.load(ordering: .relaxed) }
}
