public import BazaarDomain
public import Logging
public import ServiceLifecycle
import Synchronization

/// What a live stream (`GET /v1/stream`, the dashboard's live updates) carries.
public enum LiveEvent: Sendable, Equatable {
    /// The feed reads from here on: load the current state now, and every later change arrives as an event.
    case ready
    /// A committed movement, in commit order.
    case movement(Movement)
    /// The open alerts of a store (the first 100, newest first), sent when they change.
    case alerts(storeID: String, [Alert])
    /// This stream fell behind and events were dropped: load the current state again.
    case reset
    /// Nothing happened: keeps the connection (and the proxies on its way) from calling it idle.
    case heartbeat
}

/// A node's live updates: one reader of the ledger (and of the open alerts of the stores someone watches) for every
/// stream of the node, so a thousand open dashboards cost one query a tick, not a thousand.
///
/// It reads the ledger in commit order from the newest movement at the time the first stream opened (invariant 3b:
/// a sequence read after another was committed after it, on every engine), so movements written through any node
/// reach every node's streams. Nothing is read while no stream is open. Alerts change without a movement (an
/// acknowledgement), so the open alerts of each watched store are compared with what was last sent.
public final class LiveFeed: Service, Sendable {
    /// Where the feed reads: the ledger and the open alerts (an adapter over the storage, or a fake in tests).
    public struct Source: Sendable {
        public var latestSequence: @Sendable () async throws -> Int64
        public var movements: @Sendable (_ afterSequence: Int64, _ limit: Int) async throws -> [Movement]
        public var openAlerts: @Sendable (_ storeID: String) async throws -> [Alert]

        public init(latestSequence: @escaping @Sendable () async throws -> Int64,
                    movements: @escaping @Sendable (Int64, Int) async throws -> [Movement],
                    openAlerts: @escaping @Sendable (String) async throws -> [Alert]) {
            self.latestSequence = latestSequence
            self.movements = movements
            self.openAlerts = openAlerts
        }

        /// The storage's ledger and alerts.
        public static func storage(_ store: any LedgerStore & AlertStore) -> Source {
            Source(
                latestSequence: { try await store.auditLog(AuditQuery(limit: 1)).first?.sequence ?? 0 },
                movements: { try await store.movements(afterSequence: $0, limit: $1) },
                openAlerts: { try await store.alerts(storeID: $0, productID: nil, kind: nil, status: .open, beforeSequence: nil, limit: 100) })
        }
    }

    public struct Settings: Sendable {
        /// Streams a node keeps open at once; one more is refused (503 `overloaded`).
        public var maxStreams = 1000
        /// Streams one owner (an API key) may hold of those: one key cannot take every stream of the node.
        public var maxStreamsPerOwner = 100
        /// How often the ledger is read while a stream is open.
        public var tick: Duration = .milliseconds(500)
        /// How often the open alerts of the watched stores are compared.
        public var alertTick: Duration = .seconds(2)
        /// Stores whose alerts are read in one alert tick (round robin beyond it).
        public var alertStoresPerTick = 200
        /// Events a stream may have waiting before it is told to reload (`reset`).
        public var buffer = 1024
        public var heartbeat: Duration = .seconds(15)
        public init() {}
    }

    final class Subscriber: Sendable {
        let storeID: String?
        let continuation: AsyncStream<LiveEvent>.Continuation
        /// Set when an event could not be buffered; the stream then says `reset` before its next event.
        let overflowed = Atomic<Bool>(false)
        let isReady = Atomic<Bool>(false)

        /// Events buffered so far (counted with their buffering), so that a reader told to reload knows how many of
        /// the events waiting for it come from before its reload.
        private let enqueued = Mutex<Int>(0)

        init(storeID: String?, continuation: AsyncStream<LiveEvent>.Continuation) {
            self.storeID = storeID
            self.continuation = continuation
        }

        func send(_ event: LiveEvent) {
            enqueued.withLock { count in
                switch continuation.yield(event) {
                case .enqueued: count += 1
                case .dropped: overflowed.store(true, ordering: .relaxed)
                case .terminated: break
                @unknown default: break
                }
            }
        }

        var enqueuedCount: Int { enqueued.withLock { $0 } }
        /// Events its reader took from the buffer so far.
        let consumed = Atomic<Int>(0)
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        /// Open streams by owner.
        var owned: [String: Int] = [:]
        var nextID = 0
        var stopped = false
        /// Stores whose alerts a new stream has not been sent yet.
        var alertsOwed: Set<String> = []
    }

    private let source: Source
    private let settings: Settings
    private let logger: Logger
    private let state = Mutex(State())

    public init(source: Source, settings: Settings = Settings(), logger: Logger = Logger(label: "bazaar.live")) {
        self.source = source
        self.settings = settings
        self.logger = logger
    }

    /// The streams open now.
    public var streamCount: Int { state.withLock { $0.subscribers.count } }

    /// A stream of the movements of `storeID` (every store when nil) and of its open alerts. Refused when the node
    /// has `maxStreams` open, or `owner` (the caller's key) `maxStreamsPerOwner`, or is shutting down; it ends when
    /// the node shuts down.
    public func subscribe(storeID: String?, owner: String? = nil) throws -> Stream {
        let (stream, continuation) = AsyncStream<LiveEvent>.makeStream(bufferingPolicy: .bufferingOldest(settings.buffer))
        let subscriber = Subscriber(storeID: storeID, continuation: continuation)
        let id: Int = try state.withLock { state in
            guard !state.stopped else { throw StreamRefused.shuttingDown }
            guard state.subscribers.count < settings.maxStreams else { throw StreamRefused.tooMany(limit: settings.maxStreams) }
            if let owner {
                guard state.owned[owner, default: 0] < settings.maxStreamsPerOwner else {
                    throw StreamRefused.tooManyForKey(limit: settings.maxStreamsPerOwner)
                }
                state.owned[owner, default: 0] += 1
            }
            state.nextID += 1
            state.subscribers[state.nextID] = subscriber
            if let storeID { state.alertsOwed.insert(storeID) }
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { state in
                guard state.subscribers.removeValue(forKey: id) != nil, let owner else { return }
                state.owned[owner] = state.owned[owner].flatMap { $0 > 1 ? $0 - 1 : nil }
            }
        }
        return Stream(base: stream, subscriber: subscriber)
    }

    public func run() async throws {
        var cursor: Int64?
        var alertsSent: [String: [Alert]] = [:]
        var alertRotation = 0
        let clock = ContinuousClock()
        var lastAlertRead = clock.now - settings.alertTick
        var lastHeartbeat = clock.now
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.tick) }
            let subscribers = state.withLock { Array($0.subscribers.values) }
            guard !subscribers.isEmpty else {
                cursor = nil  // idle: read nothing until a stream opens, then start from the newest movement
                alertsSent = [:]
                continue
            }
            do {
                if cursor == nil { cursor = try await source.latestSequence() }
                for subscriber in subscribers where !subscriber.isReady.exchange(true, ordering: .relaxed) { subscriber.send(.ready) }
                // The cursor moves with each page sent, even when a later page of the tick fails: sent is sent.
                try await deliverMovements(after: &cursor!, to: subscribers)
                if clock.now - lastAlertRead >= settings.alertTick {
                    lastAlertRead = clock.now
                    alertRotation = try await deliverAlerts(to: subscribers, sent: &alertsSent, rotation: alertRotation)
                }
            } catch {
                logger.warning("live updates could not read storage; will retry", metadata: ["error": "\(error)"])
            }
            if clock.now - lastHeartbeat >= settings.heartbeat {
                lastHeartbeat = clock.now
                for subscriber in subscribers { subscriber.send(.heartbeat) }
            }
        }
        // Streams end with the node: the HTTP server's graceful shutdown then has no open answer to wait for.
        let open = state.withLock { state in
            state.stopped = true
            return Array(state.subscribers.values)
        }
        for subscriber in open { subscriber.continuation.finish() }
    }

    /// Reads the ledger after `cursor` (at most 20 pages a tick) and hands each movement to the streams that watch
    /// its store, moving `cursor` past each page handed over.
    private func deliverMovements(after cursor: inout Int64, to subscribers: [Subscriber]) async throws {
        for _ in 0..<20 {
            let page = try await source.movements(cursor, 500)
            for movement in page {
                for subscriber in subscribers where subscriber.storeID == nil || subscriber.storeID == movement.storeID {
                    subscriber.send(.movement(movement))
                }
            }
            cursor = page.last?.sequence ?? cursor
            if page.count < 500 { break }
        }
    }

    /// Compares the open alerts of the watched stores (a bounded number a tick, round robin) with what was last
    /// sent, and sends those that changed, and those a new stream is owed; returns where the rotation stopped.
    private func deliverAlerts(to subscribers: [Subscriber], sent: inout [String: [Alert]], rotation: Int) async throws -> Int {
        let watched = Array(Set(subscribers.compactMap(\.storeID))).sorted()
        sent = sent.filter { watched.contains($0.key) }
        guard !watched.isEmpty else { return 0 }
        let owed = state.withLock { state in
            defer { state.alertsOwed = [] }
            return state.alertsOwed
        }
        let count = min(watched.count, settings.alertStoresPerTick)
        var stores = (0..<count).map { watched[(rotation + $0) % watched.count] }
        stores += owed.filter { !stores.contains($0) && watched.contains($0) }
        for storeID in stores {
            let alerts = try await source.openAlerts(storeID)
            guard alerts != sent[storeID] || owed.contains(storeID) else { continue }
            sent[storeID] = alerts
            for subscriber in subscribers where subscriber.storeID == storeID { subscriber.send(.alerts(storeID: storeID, alerts)) }
        }
        return (rotation + count) % watched.count
    }

    /// The events of one stream. A stream that fell behind says `reset` before its next event, and passes over the
    /// events that were waiting then: what follows `reset` was committed after the reader's reload (or is in it).
    public struct Stream: AsyncSequence, Sendable {
        public typealias Element = LiveEvent
        let base: AsyncStream<LiveEvent>
        let subscriber: Subscriber

        public struct AsyncIterator: AsyncIteratorProtocol {
            var base: AsyncStream<LiveEvent>.AsyncIterator
            let subscriber: Subscriber

            /// Events still to pass over: those that waited in the buffer when the stream said `reset` (the reader
            /// loads the state after them; sent again they would count twice).
            var stale = 0

            public mutating func next() async -> LiveEvent? {
                if subscriber.overflowed.exchange(false, ordering: .relaxed) {
                    stale = subscriber.enqueuedCount - subscriber.consumed.load(ordering: .relaxed)
                    return .reset
                }
                while let event = await base.next() {
                    subscriber.consumed.add(1, ordering: .relaxed)
                    if stale > 0 {
                        stale -= 1
                        continue
                    }
                    return event
                }
                return nil
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), subscriber: subscriber) }

        /// Ends this stream (its reader sees the end after the events already buffered).
        public func finish() { subscriber.continuation.finish() }
    }
}

/// Why a live stream was not opened (503 `overloaded`, with `Retry-After`).
public enum StreamRefused: Error, CustomStringConvertible, Equatable {
    case tooMany(limit: Int)
    case tooManyForKey(limit: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case .tooMany(let limit): "this node already serves \(limit) live streams (live.max_streams)"
        case .tooManyForKey(let limit): "this API key already holds \(limit) live streams on this node (live.max_streams_per_key)"
        case .shuttingDown: "this node is shutting down"
        }
    }
}
