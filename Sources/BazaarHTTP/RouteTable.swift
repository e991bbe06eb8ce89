import Hummingbird
import Synchronization

/// Every route the router serves, as (method, OpenAPI-style path). The OpenAPI test compares it with
/// `openapi.yaml`, and the problem middleware uses it to answer 405 with `Allow`.
public struct RouteTable: Sendable {
    public private(set) var entries: [(method: String, path: String)] = []

    mutating func add(_ method: HTTPRequest.Method, _ path: String) {
        entries.append((method.rawValue, path))
    }

    /// Methods served on a concrete request path (HEAD wherever GET is: the router makes it from the GET).
    func methods(matching requestPath: String) -> [String] {
        let segments = requestPath.split(separator: "/", omittingEmptySubsequences: true)
        let methods = entries.filter { entry in
            let pattern = entry.path.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == segments.count else { return false }
            return zip(pattern, segments).allSatisfy { $0.first == "{" || $0 == $1 }
        }.map(\.method)
        return methods.contains("GET") ? methods + ["HEAD"] : methods
    }
}

/// Registers a route on a router or group and records it in the table.
struct RouteRegistrar {
    var table = RouteTable()

    mutating func on<Group: RouterMethods>(
        _ group: Group, _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, BazaarRequestContext) async throws -> Response
    ) where Group.Context == BazaarRequestContext {
        group.on(RouterPath(path), method: method, use: handler)
        table.add(method, path)
    }
}

/// The route table, filled once the routes are registered and read by the problem middleware.
final class RouteTableBox: Sendable {
    private let table = Mutex(RouteTable())
    func set(_ value: RouteTable) { table.withLock { $0 = value } }
    func methods(matching path: String) -> [String] { table.withLock { $0.methods(matching: path) } }
}
