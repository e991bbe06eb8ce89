import Foundation
import Testing

/// What the contract (openapi.yaml) promises about how parameters are read, checked through the router.
@Suite("Path and query parameters as the contract reads them")
struct PathAndQueryTests {
    /// `encodeURIComponent(":gA")` is `%3AgA`: the dashboard and generated clients send identifiers that way, and
    /// the identifier is what the percent-decoded segment says, checked after decoding.
    @Test func pathIdentifiersArePercentDecodedBeforeTheyAreChecked() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            #expect(try await client.call(.put, "/v1/stores/al", body: #"{"name":"Al"}"#).status == 201)
            let created = try await client.call(.put, "/v1/products/%3AgA", body: #"{"name":"colon"}"#)
            #expect(created.status == 201, "\(created.body)")
            #expect(created.string("id") == ":gA")
            let write = try await client.call(.post, "/update-stock/al/%3AgA", body: #"{"delta": 3, "reason": "receipt"}"#)
            #expect(write.status == 200, "\(write.body)")
            let read = try await client.call(.get, "/get-stock/al/%3AgA")
            #expect(read.status == 200, "\(read.body)")
            #expect(read.string("store_id") == "al" && read.string("product_id") == ":gA" && read.int("quantity") == 3)
            // The same product, unencoded.
            #expect(try await client.call(.get, "/get-stock/al/:gA").int("quantity") == 3)
            // Decoded, these are outside the alphabet or not UTF-8; malformed escapes are refused too: all 400.
            for path in ["/get-stock/al/a%2Fb", "/get-stock/al/a%20b", "/get-stock/al/%ZZ", "/get-stock/al/a%4", "/get-stock/al/%FF"] {
                let refused = try await client.call(.get, path)
                #expect(refused.status == 400 && refused.isProblem, "\(path): \(refused.status) \(refused.body)")
            }
        }
    }

    /// `cursor=` and `limit=` are what a form or a generated client sends for an optional parameter it has no
    /// value for: the same as leaving them out.
    @Test func emptyOptionalQueryParametersAreAbsent() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            _ = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
            for path in ["/v1/stores/S1/stock?cursor=&limit=", "/v1/products/P1/stock?cursor=", "/v1/changes?cursor=&limit=",
                         "/audit-logs?store_id=&product_id=&actor=&reason=&since=&until=&limit=&cursor=", "/v1/stores?cursor=&limit=",
                         "/v1/products?limit=", "/v1/alerts?store_id=&kind=&status=&cursor=", "/v1/stores/S1/products/P1/forecast?horizon="] {
                let reply = try await client.call(.get, path)
                #expect(reply.status == 200, "\(path): \(reply.status) \(reply.body)")
            }
            #expect(try await client.call(.get, "/audit-logs?store_id=&limit=").items.count == 1)
            // A value that is there is still checked.
            #expect(try await client.call(.get, "/v1/changes?limit=0").status == 400)
            #expect(try await client.call(.get, "/v1/changes?cursor=zz").status == 400)
            // Cursors are exactly what the listing gave out (`^s[0-9]{1,18}$`): no sign, no 19-digit overflow.
            #expect(try await client.call(.get, "/v1/changes?cursor=s%2B5").status == 400)
            #expect(try await client.call(.get, "/v1/changes?cursor=s9223372036854775807").status == 400)
            #expect(try await client.call(.get, "/v1/changes?cursor=s0").status == 200)
        }
    }

    /// The contract's `maxLength` counts characters (Unicode scalars), and so does the server: 128 accented
    /// characters (256 bytes) are a valid reference, 129 are not.
    @Test func lengthsAreCountedAsTheContractCountsThem() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url) { _, client in
            let fits = String(repeating: "é", count: 128)
            #expect(try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt", "reference": "\#(fits)"}"#).status == 200)
            let tooLong = try await client.call(.post, "/update-stock/S1/P1", body: #"{"delta": 1, "reason": "receipt", "reference": "\#(fits)é"}"#)
            #expect(tooLong.status == 422 && tooLong.string("field") == "reference")
            #expect(try await client.call(.put, "/v1/stores/S9", body: #"{"name": "\#(String(repeating: "ü", count: 200))"}"#).status == 201)
        }
    }
}
