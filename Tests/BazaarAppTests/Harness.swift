import BazaarApp
import BazaarCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

let adminKey = "test-admin-key-0123456789"

/// A fresh database in a temporary folder, removed when the test ends.
struct TestDatabase: ~Copyable {
    let folder: URL
    var url: String { "sqlite://" + folder.appendingPathComponent("bazaar.sqlite").path }

    init() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bazaar-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

enum Harness {
    static func configuration(_ database: String, rate: Double = 1_000_000, burst: Double = 1_000_000) -> BazaarConfiguration {
        var configuration = BazaarConfiguration()
        configuration.databaseURL = database
        configuration.adminKey = adminKey
        configuration.rateLimitRate = rate
        configuration.rateLimitBurst = burst
        return configuration
    }

    static func system(_ database: String, rate: Double = 1_000_000, burst: Double = 1_000_000) async throws -> BazaarSystem {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try await BazaarSystem.start(configuration: configuration(database, rate: rate, burst: burst), logger: logger)
    }

    /// Runs `body` against the router of a fresh system, with stores S1-S3 and products P1-P3 in the catalog.
    static func withApp(
        _ database: String, rate: Double = 1_000_000, burst: Double = 1_000_000, seed: Bool = true,
        _ body: @escaping @Sendable (BazaarSystem, any TestClientProtocol) async throws -> Void
    ) async throws {
        let system = try await system(database, rate: rate, burst: burst)
        try await system.application().test(.router) { client in
            if seed {
                for store in ["S1", "S2", "S3"] {
                    _ = try await client.call(.put, "/v1/stores/\(store)", body: #"{"name":"Store \#(store)"}"#)
                }
                for product in ["P1", "P2", "P3"] {
                    _ = try await client.call(.put, "/v1/products/\(product)", body: #"{"name":"Product \#(product)"}"#)
                }
            }
            try await body(system, client)
        }
        try await system.store.close()
    }
}

/// An answer, with its body parsed on demand.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }

    func int(_ key: String) -> Int64? { (json[key] as? NSNumber)?.int64Value }

    func string(_ key: String) -> String? { json[key] as? String }

    var isProblem: Bool { headers[.contentType] == "application/problem+json" }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, key: String? = adminKey, body: String? = nil, headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body))
        }
    }

    /// Creates a key and returns the secret.
    func key(role: String, stores: [String] = [], name: String? = nil) async throws -> String {
        let storesJSON = stores.map { "\"\($0)\"" }.joined(separator: ",")
        let reply = try await call(.post, "/v1/api-keys", body: #"{"name":"\#(name ?? role)","role":"\#(role)","stores":[\#(storesJSON)]}"#)
        guard reply.status == 201, let key = reply.string("key") else { throw TestFailure("could not create key: \(reply.body)") }
        return key
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
