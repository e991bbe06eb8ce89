import BazaarCore
import BazaarDomain
import Crypto
import HTTPTypes
import Foundation
import Hummingbird

/// Health, metrics, the OpenAPI contract and the dashboard: no API key needed.
struct OperationsController {
    let health: CachedHealth
    /// To show the checks' error texts to an admin key (they may name hosts and database users).
    let keys: APIKeyService
    let failures: FailedAuthThrottle
    let metricsText: @Sendable () -> String
    static let openAPIDocument = resource("openapi", "yaml")
    static let dashboardPage = resource("dashboard", "html")

    func register(_ routes: inout RouteRegistrar, on router: Router<BazaarRequestContext>) {
        routes.on(router, .get, "/health/live", live)
        routes.on(router, .get, "/health/ready", ready)
        routes.on(router, .get, "/metrics", metrics)
        routes.on(router, .get, "/openapi.yaml", openAPI)
        routes.on(router, .get, "/", dashboard)
    }

    @Sendable func live(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        JSONResponse.make("{\"status\":\"live\"}")
    }

    /// 503 while a required dependency is down; 200 "degraded" when only an optional one is. Answered from
    /// `CachedHealth` (at most a second old). Everyone sees each check's name and up/down; the error text of a
    /// failing check (`detail`) only goes to a request with an admin key, and is null for everyone else.
    @Sendable func ready(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let results = await health.results()
        let showDetails = await isAdmin(request, context)
        var unready = false, degraded = false
        let checks = results.map { check in
            if check.failure != nil { if check.required { unready = true } else { degraded = true } }
            return "{\"name\":\(JSON.quoted(check.name)),\"required\":\(check.required),\"status\":\"\(check.failure == nil ? "up" : "down")\","
                + "\"detail\":\(JSON.quotedOrNull(showDetails ? check.failure : nil))}"
        }
        let status = unready ? "unavailable" : degraded ? "degraded" : "ready"
        return JSONResponse.make("{\"status\":\"\(status)\",\"checks\":[\(checks.joined(separator: ","))]}",
                                 status: unready ? .serviceUnavailable : .ok)
    }

    /// Whether the request carries an admin key. Never refuses: a missing or bad key only hides the details (a
    /// bad one counts as a failed authentication of the address, so this is no key-guessing oracle).
    func isAdmin(_ request: Request, _ context: BazaarRequestContext) async -> Bool {
        guard let header = request.headers[.authorization], let key = AuthMiddleware.bearerKey(header) else { return false }
        let address = context.clientAddress
        guard key.utf8.count <= 512, failures.throttled(address) == nil || keys.isKnown(key: key),
            let (principal, queried) = try? await keys.lookup(key: key)
        else { return false }
        if principal == nil, queried { failures.recordFailure(address) }
        return principal?.role == .admin
    }

    @Sendable func metrics(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: metricsText())))
    }

    @Sendable func openAPI(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: Self.openAPIDocument)))
    }

    @Sendable func dashboard(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        Response(status: .ok, headers: Self.dashboardHeaders, body: .init(byteBuffer: ByteBuffer(string: Self.dashboardPage)))
    }

    /// The page holds an API key (in the browser's storage) and acts with it, so it runs only its own script (by
    /// hash: nothing injected into the page would run), talks only to this origin, and cannot be framed by another
    /// site (clickjacking its buttons). Styles may be inline: the page sets bar widths through `style`.
    static let dashboardHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy: "default-src 'none'; script-src '\(inlineScriptHash(dashboardPage))'; style-src 'unsafe-inline'; "
            + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        .xFrameOptions: "DENY",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
        .cacheControl: "no-cache",
    ]

    /// `sha256-<base64>` of the page's one inline script (`none` without one), as a Content-Security-Policy source.
    static func inlineScriptHash(_ page: String) -> String {
        guard let open = page.range(of: "<script>"), let close = page.range(of: "</script>", range: open.upperBound..<page.endIndex) else {
            return "none"
        }
        return "sha256-" + Data(SHA256.hash(data: Data(page[open.upperBound..<close.lowerBound].utf8))).base64EncodedString()
    }

    static func resource(_ name: String, _ ext: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext), let text = try? String(contentsOf: url, encoding: .utf8) else {
            return ""
        }
        return text
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
