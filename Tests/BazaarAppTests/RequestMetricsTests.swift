import BazaarApp
@testable import BazaarHTTP
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// `RequestMetricsMiddleware` (issue 15): Hummingbird's request series, recorded without wrapping an answer's body,
/// so that the answer's head and body leave in one write.
@Suite struct RequestMetricsTests {
    /// Every answer of fixed length arrives whole in the first read: its head and body were written together (a body
    /// wrapped to time its writing went out in a second write, after a hop to the event loop, and a client waiting for
    /// the answer was woken by the head alone).
    @Test func anAnswerArrivesWholeInItsFirstRead() async throws {
        let db = TestDatabase()
        try await Harness.withApp(db.url, live: true) { _, client in
            let connection = try RawConnection(port: try #require(client.port))
            defer { connection.close() }
            let write = #"{"delta": 1, "reason": "receipt"}"#
            for index in 0..<20 {
                let request = index % 4 == 3
                    ? "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                    : "POST /update-stock/S1/P1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminKey)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(write.utf8.count)\r\n\r\n\(write)"
                connection.send(request)
                let bytes = await connection.firstRead(within: .seconds(60))
                let first = String(decoding: bytes, as: UTF8.self)
                #expect(first.hasPrefix("HTTP/1.1 200"), "\(first)")
                #expect(RawConnection.firstAnswer(bytes, bodiless: false)?.1 == bytes.count, "answer \(index) whole in the first read: \(first)")
            }
        }
    }

    /// The series are Hummingbird's: an answer of fixed length is counted and timed when the handler returns it, a
    /// stream (no length) when its last byte is written (its series exist from its start, at 0).
    @Test func anAnswerIsCountedWhenReturnedAndAStreamWhenItEnds() async throws {
        _ = Observability.registry
        let route = "/probe-\(UUID().uuidString.prefix(8))"
        let (started, startedOnce) = AsyncStream<Void>.makeStream()
        let (gate, opening) = AsyncStream<Void>.makeStream()
        let router = Router()
        router.add(middleware: RequestMetricsMiddleware())
        router.get("\(route)/fixed") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "fixed"))) }
        router.get("\(route)/stream") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                startedOnce.yield()
                for await _ in gate { break }
                try await writer.write(ByteBuffer(string: "late"))
                try await writer.finish(nil)
            })
        }
        try await Application(router: router).test(.router) { client in
            let fixed = try await client.execute(uri: "\(route)/fixed", method: .get) { String(buffer: $0.body) }
            #expect(fixed == "fixed")
            // Counted (this test client has taken the body by now, so only the stream below tells the two moments apart).
            #expect(Self.count(route, "fixed") == "1")
            let stream = Task { try await client.execute(uri: "\(route)/stream", method: .get) { String(buffer: $0.body) } }
            for await _ in started { break }
            #expect(Self.count(route, "stream") == "0", "a stream being written is not counted yet")
            opening.yield()
            let late = try await stream.value
            #expect(late == "late")
            #expect(Self.count(route, "stream") == "1")
        }
        let timed = Observability.render().split(separator: "\n").filter {
            $0.hasPrefix("http_server_request_duration_count{http_route=\"\(route)/")
        }
        #expect(timed.count == 2 && timed.allSatisfy { $0.hasSuffix(" 1") }, "each answer timed once: \(timed)")
    }
}

extension RequestMetricsTests {
    /// A handler's error is counted in `hb_requests` and `hb_request_errors` under its status (Hummingbird's branch, for
    /// what no inner middleware answered), and a stream whose writing fails midway is still counted, once.
    @Test func anErrorAndAFailedStreamAreCountedOnce() async throws {
        _ = Observability.registry
        let route = "/probe-\(UUID().uuidString.prefix(8))"
        let router = Router()
        router.add(middleware: RequestMetricsMiddleware())
        router.get("\(route)/refused") { _, _ -> Response in throw HTTPError(.conflict) }
        router.get("\(route)/broken") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "partial"))
                throw CancellationError()
            })
        }
        try await Application(router: router).test(.router) { client in
            let refused = try await client.execute(uri: "\(route)/refused", method: .get) { $0.status }
            #expect(refused == .conflict)
            _ = try? await client.execute(uri: "\(route)/broken", method: .get) { $0.status }
        }
        let lines = Observability.render().split(separator: "\n").filter { $0.contains("http_route=\"\(route)/") }
        #expect(lines.contains { $0.hasPrefix("hb_request_errors{") && $0.contains("/refused\"") && $0.contains("error_type=\"409\"") && $0.hasSuffix(" 1") },
                "\(lines)")
        #expect(lines.contains { $0.hasPrefix("hb_requests{") && $0.contains("/refused\"") && $0.hasSuffix(" 1") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("hb_requests{") && $0.contains("/broken\"") && $0.hasSuffix(" 1") }, "\(lines)")
    }


    /// The `hb_requests` count of the route `<route>/<path>`, as `/metrics` renders it (nil: no such series yet).
    static func count(_ route: String, _ path: String) -> String? {
        Observability.render().split(separator: "\n")
            .first { $0.hasPrefix("hb_requests{") && $0.contains("http_route=\"\(route)/\(path)\"") }
            .map { String($0.split(separator: " ").last ?? "") }
    }
}

extension RawConnection {
    /// What the first read returns once an answer starts to arrive (empty if none does within `limit`). On a thread of
    /// its own, waiting in `poll`, like `trickle`: a blocking wait must not hold a thread of the concurrency pool.
    func firstRead(within limit: Duration) async -> [UInt8] {
        await withCheckedContinuation { (done: CheckedContinuation<[UInt8], Never>) in
            let thread = Thread { [fd] in
                var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let millis = Int32(limit.components.seconds * 1000)
                guard poll(&waiting, 1, millis) == 1 else { return done.resume(returning: []) }
                var buffer = [UInt8](repeating: 0, count: 65_536)
                let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                done.resume(returning: count > 0 ? Array(buffer[..<count]) : [])
            }
            thread.name = "raw-connection-first-read"
            thread.start()
        }
    }
}
