import Testing

@Suite("Randomized bad input never answers 500")
struct RandomInputTests {
    /// A small deterministic generator, so a failure reproduces.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    }

    static let values = [
        "1", "-1", "0", "1.5", "-0", "1e400", "99999999999999999999", "\"5\"", "\"\"", "null", "true", "[]", "{}", "[1,2]",
        "{\"a\":1}", "\"sale\"", "\"S1\"", "\"\\u0000\"", "\"é✓\"", "-9223372036854775808", "9223372036854775807", "\"2026-01-01T00:00:00Z\"",
    ]
    static let fields = ["delta", "quantity", "reason", "reference", "expected_version", "occurred_at", "store_id", "product_id",
                         "movements", "from_store_id", "to_store_id", "name", "role", "stores", "attributes", "pack_size", "service_level"]

    @Test func mutatedBodiesAreAnswered4xxOr2xxNever5xx() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { system, client in
            var rng = Generator(state: 0x5EED)
            let targets: [(String, String)] = [
                ("POST", "/update-stock/S1/P1"), ("POST", "/v1/movements"), ("POST", "/v1/transfers"),
                ("PUT", "/v1/stores/S1"), ("PUT", "/v1/products/P1"), ("POST", "/v1/api-keys"),
            ]
            for round in 0..<400 {
                let (method, uri) = rng.pick(targets)
                var body: String
                switch rng.next() % 4 {
                case 0:  // an object of random fields and values
                    let count = Int(rng.next() % 4)
                    body = "{" + (0..<count).map { _ in "\"\(rng.pick(Self.fields))\": \(rng.pick(Self.values))" }.joined(separator: ",") + "}"
                case 1:  // a batch with one random item
                    body = "{\"movements\": [{\"store_id\": \"S1\", \"product_id\": \"P1\", \"\(rng.pick(Self.fields))\": \(rng.pick(Self.values))}]}"
                case 2:  // truncated valid JSON
                    let valid = #"{"delta": 5, "reason": "receipt", "reference": "PO-1"}"#
                    body = String(valid.prefix(Int(rng.next() % UInt64(valid.count))))
                default:  // random bytes
                    body = String(decoding: (0..<Int(rng.next() % 40)).map { _ in UInt8(rng.next() % 256) }, as: UTF8.self)
                }
                let reply = try await client.call(.init(rawValue: method)!, uri, body: body)
                #expect(reply.status < 500, "round \(round): \(method) \(uri) \(body) -> \(reply.status) \(reply.body)")
                if reply.status >= 400 { #expect(reply.isProblem, "round \(round)") }
            }
            // Whatever was accepted is consistent with the ledger.
            for product in ["P1", "P2", "P3"] {
                let totals = try await system.store.ledgerTotals(storeID: "S1", productID: product)
                let level = try await fresh { try await system.store.level(storeID: "S1", productID: product) }
                #expect((level?.quantity ?? 0) == totals.sum && (level?.version ?? 0) == totals.rows)
            }
        }
    }
}
