public import BazaarCore
public import BazaarDomain
import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import NIOHTTP1

/// An RFC 9457 problem: every failure the API answers is one of these, as `application/problem+json`.
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// A short slug; the `type` member is `/problems/<slug>`.
    public var slug: String
    public var title: String
    public var detail: String
    /// Extra members (for example `field`, `current_version`), already JSON-encoded values.
    public var extensions: [(String, String)]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ slug: String, _ title: String, _ detail: String,
                extensions: [(String, String)] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    public var json: String {
        var members = [
            "\"type\":\(JSON.quoted("/problems/" + slug))", "\"title\":\(JSON.quoted(title))",
            "\"status\":\(status.code)", "\"detail\":\(JSON.quoted(detail))",
        ]
        members += extensions.map { "\(JSON.quoted($0.0)):\($0.1)" }
        return "{" + members.joined(separator: ",") + "}"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// A malformed query parameter, path segment or header.
    static func badParameter(_ name: String, _ message: String) -> Problem {
        Problem(.badRequest, "invalid-parameter", "Invalid parameter", "`\(name)` \(message)", extensions: [("field", JSON.quoted(name))])
    }
}

extension Problem {
    /// The one mapping from domain refusals to HTTP (the command line reuses its titles and details).
    public init(_ error: DomainError) {
        switch error {
        case .invalid(let field, let message):
            self.init(.unprocessableContent, "invalid-request", "Invalid request", "`\(field)` \(message)",
                      extensions: [("field", JSON.quoted(field))])
        case .unknownStore(let id):
            self.init(.notFound, "unknown-store", "Unknown store",
                      "store \(JSON.quoted(id)) is not in the catalog; create it with PUT /v1/stores/{store_id}")
        case .unknownProduct(let id):
            self.init(.notFound, "unknown-product", "Unknown product",
                      "product \(JSON.quoted(id)) is not in the catalog; create it with PUT /v1/products/{product_id}")
        case .notFound(let what, let id):
            self.init(.notFound, "not-found", "Not found", "\(what) \(JSON.quoted(id)) does not exist")
        case .versionConflict(let store, let product, let expected, let actual):
            self.init(.conflict, "version-conflict", "Version conflict",
                      "stock of \(product) in \(store) is at version \(actual), not the expected \(expected); read it again and retry",
                      extensions: [("current_version", "\(actual)"), ("expected_version", "\(expected)")])
        case .insufficientStock(let store, let product, let available, let requested):
            self.init(.conflict, "insufficient-stock", "Insufficient stock",
                      "\(product) in \(store) has \(available), which cannot cover \(requested)",
                      extensions: [("available", "\(available)"), ("requested", "\(requested)")])
        case .insufficientAvailable(let store, let product, let available, let requested):
            self.init(.conflict, "insufficient-available", "Insufficient available stock",
                      "\(product) in \(store) has \(available) available (on hand less active reservations), which cannot cover \(requested)",
                      extensions: [("available", "\(available)"), ("requested", "\(requested)")])
        case .reservationNotActive(let id, let status):
            self.init(.conflict, "reservation-not-active", "Reservation not active",
                      "reservation \(JSON.quoted(id)) is \(status); only an active reservation can be fulfilled or released",
                      extensions: [("reservation_status", JSON.quoted(status))])
        case .purchaseOrderClosed(let id):
            self.init(.conflict, "purchase-order-closed", "Purchase order closed",
                      "purchase order \(JSON.quoted(id)) is closed; record further goods against a new order or with POST /update-stock")
        case .planChanged(let store, let product):
            self.init(.conflict, "plan-changed", "Replenishment plan changed",
                      "\(product) in \(store) changed while the plan was acted on (replenished or drawn meanwhile, by another call acting on the plan, say); nothing was made: read the plan again")
        case .nothingToReplenish(let store):
            self.init(.conflict, "nothing-to-replenish", "Nothing to replenish",
                      "the replenishment plan of \(JSON.quoted(store)) suggests nothing for these products: their inventory position (on hand + incoming - reserved) is above the reorder point, or the engine has no thresholds for them yet")
        case .transferAlreadyReceived(let id):
            self.init(.conflict, "transfer-already-received", "Transfer already received",
                      "transfer \(JSON.quoted(id)) was already received; record a later find with POST /update-stock")
        case .idempotencyKeyReused(let key):
            self.init(.unprocessableContent, "idempotency-key-reused", "Idempotency key reused",
                      "Idempotency-Key \(JSON.quoted(key)) was already used for a different request; use a new key for a new request")
        case .apiKeyNameTaken(let name):
            self.init(.conflict, "api-key-name-taken", "API key name taken",
                      "an active API key is already named \(JSON.quoted(name)); the audit trail names each change's actor by its key's name, so choose another name or revoke that key first",
                      extensions: [("field", JSON.quoted("name"))])
        case .unauthorized(let message):
            self.init(.unauthorized, "unauthorized", "Unauthorized", message, headers: [.wwwAuthenticate: "Bearer"])
        case .forbidden(let message):
            self.init(.forbidden, "forbidden", "Forbidden", message)
        }
    }
}

extension Problem {
    /// The database cannot be reached: 503 with `Retry-After`, since the service reconnects by itself. When a
    /// write's commit was sent and its answer lost, `outcome: "unknown"` says it may have been applied (the type
    /// stays `database-unavailable`, which clients already handle).
    public init(_ error: StorageUnavailable) {
        self.init(.serviceUnavailable, "database-unavailable", "Database unavailable",
                  "\(error.description); retry shortly (writes with the same Idempotency-Key apply at most once)",
                  extensions: error.writeMayHaveApplied ? [("outcome", JSON.quoted("unknown"))] : [],
                  headers: [.retryAfter: "1"])
    }
}

/// Turns every error into problem+json, answers 405 for a known path with another method, and tags
/// responses with the request id.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = BazaarRequestContext
    let routes: RouteTableBox

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = problem(for: error, request: request, context: context)
            if case .internalServerError = problem.status {
                context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            }
            if problem.status.code >= 400, problem.status.code < 500 {
                BazaarMetrics.rejected(reason: problem.slug)
            }
            response = try problem.response(from: request, context: context)
        }
        response.headers[.xRequestID] = context.id
        return response
    }

    func problem(for error: any Error, request: Request, context: Context) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let domain as DomainError:
            return Problem(domain)
        case let unavailable as StorageUnavailable:
            return Problem(unavailable)
        case let overloaded as Overloaded:
            return Problem(.serviceUnavailable, "overloaded", "Overloaded",
                           "\(overloaded.description); retry in a second (with the same Idempotency-Key, a write applies at most once)",
                           headers: [.retryAfter: "1"])
        case let refused as StreamRefused:
            return Problem(.serviceUnavailable, "overloaded", "Overloaded", "\(refused.description); retry in a few seconds",
                           headers: [.retryAfter: "5"])
        case is QueryTimeout:
            return Problem(.serviceUnavailable, "query-timeout", "Query too slow",
                           "the query ran longer than the database's statement timeout (database.statement_timeout_ms) and was stopped: narrow it (store_id, product_id, a shorter since/until window) and retry",
                           headers: [.retryAfter: "1"])
        case let decoding as DecodingError:
            return Problem.decoding(decoding)
        case let malformed as HTTPParserError:  // met while reading a body (a bad chunk size, say)
            return Problem.malformed(malformed)
        case let http as HTTPError:
            switch http.status {
            case .notFound where context.endpointPath == nil || context.endpointPath == "NotFound":
                let allowed = routes.methods(matching: request.uri.path)
                if !allowed.isEmpty {
                    return Problem(.methodNotAllowed, "method-not-allowed", "Method not allowed",
                                   "\(request.method) is not allowed on \(request.uri.path); allowed: \(allowed.joined(separator: ", "))",
                                   headers: [.allow: allowed.joined(separator: ", ")])
                }
                return Problem(.notFound, "no-route", "Not found", "there is no endpoint \(request.method) \(request.uri.path); see /openapi.yaml")
            case .contentTooLarge:
                return Problem(.contentTooLarge, "body-too-large", "Body too large", "request bodies are limited to 1 MiB")
            default:
                return Problem(http.status, "http-error", http.status.reasonPhrase, http.body ?? http.status.reasonPhrase, headers: http.headers)
            }
        default:
            return Problem(.internalServerError, "internal", "Internal error",
                           "the request failed on the server; report request id \(context.id)")
        }
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let rateLimitLimit = Self("RateLimit-Limit")!
    static let rateLimitRemaining = Self("RateLimit-Remaining")!
    static let rateLimitReset = Self("RateLimit-Reset")!
    static let consistency = Self("Bazaar-Consistency")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
