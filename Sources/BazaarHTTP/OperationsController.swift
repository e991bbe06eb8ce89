import BazaarDomain
import Foundation
import Hummingbird

/// Health, metrics, the OpenAPI contract and the dashboard: no API key needed.
struct OperationsController {
    let healthChecks: [HealthCheck]
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

    /// 503 while a required dependency is down; 200 "degraded" when only an optional one is.
    @Sendable func ready(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let results = await withTaskGroup(of: (Int, String?).self) { group in
            for (index, check) in healthChecks.enumerated() { group.addTask { (index, await check.probe()) } }
            var results = [String?](repeating: nil, count: healthChecks.count)
            for await (index, failure) in group { results[index] = failure }
            return results
        }
        var unready = false, degraded = false
        let checks = zip(healthChecks, results).map { check, failure in
            if failure != nil { if check.required { unready = true } else { degraded = true } }
            return "{\"name\":\(JSON.quoted(check.name)),\"required\":\(check.required),\"status\":\"\(failure == nil ? "up" : "down")\","
                + "\"detail\":\(JSON.quotedOrNull(failure))}"
        }
        let status = unready ? "unavailable" : degraded ? "degraded" : "ready"
        return JSONResponse.make("{\"status\":\"\(status)\",\"checks\":[\(checks.joined(separator: ","))]}",
                                 status: unready ? .serviceUnavailable : .ok)
    }

    @Sendable func metrics(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: metricsText())))
    }

    @Sendable func openAPI(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: Self.openAPIDocument)))
    }

    @Sendable func dashboard(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Self.dashboardPage)))
    }

    static func resource(_ name: String, _ ext: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext), let text = try? String(contentsOf: url, encoding: .utf8) else {
            return ""
        }
        return text
    }
}
