import BazaarApp
import Foundation
import HummingbirdTesting
import Testing

/// Requests the HTTP/1.1 decoder refuses get the API's problem, not a bare 400 with no body: 431 for oversized
/// header fields, 400 `malformed-http` naming what broke, and never a 500 (a bad chunk inside a body reached the
/// router as an unknown error). The answer comes in order after those of earlier pipelined requests, and the
/// connection closes after it.
@Suite("Malformed HTTP is a problem too", .ownConsistencyTokens)
struct MalformedHTTPTests {
    static let key = "Authorization: Bearer \(adminKey)\r\n"

    @Test func eachMalformedRequestIsAProblemThatSaysWhatBroke() async throws {
        let db = TestDatabase()
        let system = try await Harness.system(db.url)
        try await system.application().test(.live) { client in
            let port = try #require(client.port)
            try await RedisTestServer.seed(client)
            let cases: [(request: String, status: String, type: String, detail: String)] = [
                ("GARBAGE\r\n\r\n", "400", "malformed-http", "method"),
                ("GET /health/live HTTP/1.1\r\nHost: x\r\nX: \(String(repeating: "a", count: 100_000))\r\n\r\n", "431", "header-too-large", "80 KiB"),
                ("GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", "400", "malformed-http", "header field"),
                ("POST /update-stock/S1/P1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "400", "malformed-http", "Content-Length"),
                ("POST /update-stock/S1/P1 HTTP/1.1\r\nHost: x\r\n\(Self.key)Transfer-Encoding: chunked\r\n\r\n5\r\n{\"del\r\nZZ\r\n",
                 "400", "malformed-http", "chunk"),
            ]
            for (request, status, type, detail) in cases {
                let connection = try RawConnection(port: port)
                defer { connection.close() }
                #expect(connection.sendAll(request))
                let answer = try #require(await connection.responses(1, within: .seconds(30)).first, "no answer to \(request.prefix(60))")
                #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(answer)")
                #expect(answer.contains("Content-Type: application/problem+json"), "\(answer)")
                #expect(answer.contains("\"type\":\"/problems/\(type)\"") && answer.contains(detail), "\(answer)")
                #expect(try await eventually(seconds: 10) { connection.closedByServer() }, "the connection closes after it")
            }
            // Pipelined: the good request's answer first, then the problem.
            let connection = try RawConnection(port: port)
            defer { connection.close() }
            #expect(connection.sendAll("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n"))
            let answers = await connection.responses(2, within: .seconds(30))
            #expect(answers.count == 2 && answers[0].hasPrefix("HTTP/1.1 200 ") && answers[1].contains("/problems/malformed-http"), "\(answers)")
            // A body that breaks on a route that does not read it: that request's own answer, and no second one.
            for path in ["/nothing", "/health/live"] {
                let broken = try RawConnection(port: port)
                defer { broken.close() }
                #expect(broken.sendAll("POST \(path) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"sto\r\nQQ\r\n"))
                let answers = await broken.responses(2, within: .seconds(5))
                #expect(answers.count == 1, "one answer for one request: \(answers)")
                #expect(try await eventually(seconds: 10) { broken.closedByServer() })
            }
            // CONNECT: what follows it is a tunnel's bytes to the decoder, so its answer ends with the connection.
            let tunnel = try RawConnection(port: port)
            defer { tunnel.close() }
            #expect(tunnel.sendAll("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n"))
            let refused = await tunnel.firstRead(within: .seconds(30))
            let head = String(decoding: refused, as: UTF8.self)
            #expect(head.hasPrefix("HTTP/1.1 404") && head.lowercased().contains("connection: close"), "\(head)")
            #expect(try await eventually(seconds: 10) { tunnel.closedByServer() }, "the connection closes after the answer")
            #expect(try await client.call(.get, "/get-stock/S1/P1").int("version") == 0, "nothing was written")
        }
        try await system.store.close()
    }
}
