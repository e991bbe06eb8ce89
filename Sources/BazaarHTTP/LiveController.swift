import BazaarCore
import BazaarDomain
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Live updates as server-sent events (`text/event-stream`), authorized like every other read: a store's stream
/// needs read access to that store, the chain's stream needs access to every store.
///
/// The events: `ready` (load the current state now: every later change arrives on the stream), `movement` (an audit
/// item, as `/v1/changes` answers it), `alerts` (a store's open alerts when they change: `{"store_id", "items"}`),
/// `reset` (this stream fell behind: load again) and comments as heartbeats. The stream ends when the node shuts
/// down; a client reconnects and waits for `ready` again.
struct LiveController {
    let stock: StockService
    let feed: LiveFeed

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/stream", stream)
    }

    @Sendable func stream(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let storeID = try request.identifierQuery("store_id")
        if let storeID {
            try caller.require(.readStock(storeID: storeID))
            guard try await stock.catalog.hasStore(storeID) else { throw DomainError.unknownStore(storeID) }
        } else {
            try caller.require(.readAllStores)
        }
        let events = try feed.subscribe(storeID: storeID)
        let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // A client that reconnects waits two seconds; then the stream opens with a comment, so the answer's
            // head goes out at once.
            try await writer.write(ByteBuffer(string: "retry: 2000\n: live updates\n\n"))
            // The server's graceful shutdown waits for the answers in flight: a stream ends as soon as it begins.
            try await withGracefulShutdownHandler {
                for await event in events {
                    try await writer.write(ByteBuffer(string: Self.frame(event)))
                }
            } onGracefulShutdown: {
                events.finish()
            }
            try await writer.finish(nil)
        })
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
