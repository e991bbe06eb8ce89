import BazaarCore
import BazaarDomain
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// Live updates as server-sent events (`text/event-stream`), authorized like every other read: a store's stream
/// needs read access to that store, the chain's stream needs access to every store.
///
/// The events: `ready` (load the current state now: every later change arrives on the stream), `movement` (an audit
/// item, as `/v1/changes` answers it), `alerts` (a store's open alerts when they change: `{"store_id", "items"}`),
/// `reset` (this stream fell behind: load again) and comments as heartbeats. The stream ends when the node shuts
/// down; a client reconnects and waits for `ready` again. A stream outlives no revocation of its key: before an
/// event goes out the key is checked again (at most every `keyRecheck`, from the key cache: a revocation on this
/// node at once, on another within the cache's bound), and a revoked key's stream ends with nothing more sent.
struct LiveController {
    let stock: StockService
    let feed: LiveFeed
    let keys: APIKeyService
    var keyRecheck: Duration = .milliseconds(250)
    /// How long one write may wait for a client that does not read before its stream is ended.
    var writeStall: Duration = .seconds(60)

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/stream", stream)
    }

    @Sendable func stream(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try request.identifierQuery("store_id")
        if let storeID {
            try caller.require(.readStock(storeID: storeID))
            try await stock.requireStore(storeID)
        } else {
            try caller.require(.readAllStores)
        }
        // The key as authenticated (AuthMiddleware has checked the header's form).
        let secret = String(request.headers[.authorization]?.dropFirst(7) ?? "")
        let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]
        let events = try feed.subscribe(storeID: storeID, owner: caller.keyID)
        // HEAD: refused as GET would be (no room for a stream), else the head alone; its place is given back at once
        // (the body that would end the stream never runs).
        guard request.method != .head else {
            events.finish()
            return Response(status: .ok, headers: headers)
        }
        let (keys, keyRecheck, writeStall) = (self.keys, self.keyRecheck, self.writeStall)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await Self.serve(events, to: &writer, secret: secret, keys: keys, keyRecheck: keyRecheck, writeStall: writeStall)
        })
    }

    /// The answer's body: the stream's events as they come, until the stream ends.
    ///
    /// The server's graceful shutdown waits for the answers in flight: a stream ends as soon as it begins. A write the
    /// client does not take (it stopped reading: its socket is full) would hold this answer, its stream's place and the
    /// node's shutdown for ever: then the answer's own task is cancelled (the write fails and the connection closes)
    /// once one write has waited `writeStall`, or half a second at a graceful shutdown.
    private static func serve(_ events: LiveFeed.Stream, to writer: inout any ResponseBodyWriter, secret: String, keys: APIKeyService,
                              keyRecheck: Duration, writeStall: Duration) async throws {
        // A client that reconnects waits two seconds; then the stream opens with a comment, so the answer's head goes
        // out at once.
        try await writer.write(ByteBuffer(string: "retry: 2000\n: live updates\n\n"))
        try await withUnsafeCurrentTask { current in
            let answer = AnswerTask(task: current)
            let watch = WriteWatch()
            try await withThrowingTaskGroup(of: Void.self) { watchers in
                watchers.addTask { await endStalledWrite(watch, of: events, answer: answer, writeStall: writeStall) }
                try await withGracefulShutdownHandler {
                    try await relay(events, to: &writer, watch: watch, secret: secret, keys: keys, keyRecheck: keyRecheck)
                } onGracefulShutdown: {
                    events.finish()
                }
                watchers.cancelAll()
            }
        }
        try await writer.finish(nil)
    }

    /// Looks at the stream's write in progress four times a second; once it has waited `writeStall` (half a second
    /// at a graceful shutdown, when a stream ends by itself unless a write holds it), ends the stream and cancels
    /// the answer's task.
    private static func endStalledWrite(_ watch: WriteWatch, of events: LiveFeed.Stream, answer: AnswerTask, writeStall: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            if Task.isCancelled { return }
            if watch.stalled(longerThan: Task.isShuttingDownGracefully ? .milliseconds(500) : writeStall) {
                events.finish()
                answer.task?.cancel()
                return
            }
        }
    }

    /// Writes each event. Authorized once is not authorized for ever: before an event goes out, the key is checked
    /// again (from the key cache, at most every `keyRecheck`), and a revoked key's stream ends there. A check that
    /// fails (storage down) keeps the stream.
    private static func relay(_ events: LiveFeed.Stream, to writer: inout any ResponseBodyWriter, watch: WriteWatch, secret: String,
                              keys: APIKeyService, keyRecheck: Duration) async throws {
        var checkedAt = ContinuousClock.now
        for await event in events {
            if ContinuousClock.now - checkedAt >= keyRecheck {
                checkedAt = .now
                if let found = try? await keys.lookup(key: secret), found.principal == nil {
                    events.finish()
                    break
                }
            }
            watch.begin()
            try await writer.write(ByteBuffer(string: Self.frame(event)))
            watch.end()
        }
    }

    /// One event in the text/event-stream format: the JSON is on one line (JSON escapes every line break).
    static func frame(_ event: LiveEvent) -> String {
        switch event {
        case .ready: "event: ready\ndata: {}\n\n"
        case .movement(let movement): "id: \(Cursor.encode(sequence: movement.sequence))\nevent: movement\ndata: \(movement.auditJSON)\n\n"
        case .alerts(let storeID, let alerts):
            "event: alerts\ndata: {\"store_id\":\(JSON.quoted(storeID)),\"items\":[\(alerts.map(\.json).joined(separator: ","))]}\n\n"
        case .reset: "event: reset\ndata: {}\n\n"
        case .heartbeat: ": heartbeat\n\n"
        }
    }
}

/// When the write in progress of a stream began (nil between writes).
private final class WriteWatch: Sendable {
    private let since = Mutex<ContinuousClock.Instant?>(nil)

    func begin() { since.withLock { $0 = .now } }
    func end() { since.withLock { $0 = nil } }
    func stalled(longerThan limit: Duration) -> Bool {
        since.withLock { $0.map { ContinuousClock.now - $0 > limit } ?? false }
    }
}

/// The task of a stream's answer, for its watcher: a child task that ends before the answer's task does, so the
/// reference never outlives the task.
private struct AnswerTask: @unchecked Sendable {
    let task: UnsafeCurrentTask?
}
