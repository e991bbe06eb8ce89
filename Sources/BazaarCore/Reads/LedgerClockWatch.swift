public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// The database's ledger clock as one read of the primary saw it: the highest sequence handed out, and the server
/// that answered (MySQL's `@@server_id`).
public struct LedgerClockReading: Sendable, Equatable {
    public var sequence: Int64
    public var server: String

    public init(sequence: Int64, server: String) {
        self.sequence = sequence
        self.server = server
    }
}

/// Where the primary's ledger clock is read.
public protocol LedgerClockSource: Sendable {
    func readLedgerClock() async throws -> LedgerClockReading
}

/// The last clock reading the caches were checked against, and how many times the database was found to have gone
/// back (each time, every cached level was dropped).
public struct LedgerWatermark: Sendable, Equatable {
    public var generation: Int64
    public var reading: LedgerClockReading

    public init(generation: Int64, reading: LedgerClockReading) {
        self.generation = generation
        self.reading = reading
    }
}

/// Where the watermark is kept: in the node (`InMemoryLedgerWatermarks`), or beside a shared cache (Redis), so that
/// a node started after the database went back still finds the levels it must not trust.
public protocol LedgerWatermarks: Sendable {
    func load() async throws -> LedgerWatermark?
    /// If the watermark is still `seen`: raises it to `reading` (same server, higher sequence), or, `wentBack`, starts
    /// the next generation at `reading`. Returns the watermark now kept, and whether this call started a generation.
    /// A watermark moved on since `seen` (another node) is left as it is.
    func advance(from seen: LedgerWatermark?, to reading: LedgerClockReading, wentBack: Bool) async throws -> (LedgerWatermark, started: Bool)
}

/// Levels cached from a database that has since gone back in time (restored from a backup, a failover to a replica
/// that had not received the last commits, a database dropped and created again under the same cache) are not in the
/// database any more, yet a cache would keep answering them: it replaces a level only with a newer version, and the
/// database now hands out those versions again with other quantities. This service reads the primary's ledger clock
/// every `interval` and compares it with the watermark: a clock below it, or read from another server, means the
/// database went back, and every cached level is dropped (the shared cache's, then each node's own, which learn it from
/// the watermark's generation at their next check). Levels refill from the database on the next reads.
///
/// Sound because the watermark is read before the clock: every sequence in it was read from the clock, which never
/// goes back in a healthy database. Not complete: a database that went back by fewer commits than are written in one
/// `interval` catches up unseen on the same server (a failover changes the server, so it is seen); `bazaar cache
/// drop` (`dropEverything`) covers that case, and a restore done with the nodes stopped is seen at their start.
public struct LedgerClockWatch: Service {
    let source: any LedgerClockSource
    let watermarks: any LedgerWatermarks
    let cache: any StockCache
    let interval: Duration
    let logger: Logger

    public init(source: any LedgerClockSource, watermarks: any LedgerWatermarks, cache: any StockCache,
                interval: Duration = .seconds(1), logger: Logger) {
        self.source = source
        self.watermarks = watermarks
        self.cache = cache
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var known: Int64?
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                known = try await check(knownGeneration: known)
            } catch {
                logger.debug("ledger clock check failed; will retry", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One check; returns the generation this node now knows (nil before its first check).
    @discardableResult
    public func check(knownGeneration known: Int64?) async throws -> Int64 {
        let seen = try await watermarks.load()
        let reading = try await source.readLedgerClock()
        let wentBack = seen.map { reading.server != $0.reading.server || reading.sequence < $0.reading.sequence } ?? false
        if wentBack {
            // Dropped before the generation moves on: if the drop fails, the next check finds the same watermark.
            logger.warning("the database went back in time (restored, or a failover lost commits): dropping every cached level",
                           metadata: ["cached_up_to_sequence": "\(seen!.reading.sequence)", "cached_from_server": "\(seen!.reading.server)",
                                      "database_sequence": "\(reading.sequence)", "database_server": "\(reading.server)"])
            try await cache.dropAllLevels(sharedToo: true)
        }
        let (now, started) = try await watermarks.advance(from: seen, to: reading, wentBack: wentBack)
        if started {
            LedgerClockWatchMetrics.drops.increment()
        } else if !wentBack, let known, now.generation != known {
            // Another node found the database gone back and dropped the shared levels: this node's own go too.
            try await cache.dropAllLevels(sharedToo: false)
        }
        return now.generation
    }
}

extension LedgerClockWatch {
    /// `bazaar cache drop`: every cached level dropped, here and in the shared cache, and the watermark's generation
    /// moved on, so that every node empties its own cache at its next check, as when the database went back. False
    /// when other nodes' checks kept moving the watermark on meanwhile (try again).
    public func dropEverything() async throws -> Bool {
        try await cache.dropAllLevels(sharedToo: true)
        // Nodes raise the watermark once a second; a look, a read and a script take milliseconds.
        for _ in 0..<20 {
            let seen = try await watermarks.load()
            let reading = try await source.readLedgerClock()
            if try await watermarks.advance(from: seen, to: reading, wentBack: true).started { return true }
        }
        return false
    }
}

/// The watermark of a node whose cache is its own.
public final class InMemoryLedgerWatermarks: LedgerWatermarks {
    private let kept = Mutex<LedgerWatermark?>(nil)

    public init() {}

    public func load() -> LedgerWatermark? { kept.withLock { $0 } }

    public func advance(from seen: LedgerWatermark?, to reading: LedgerClockReading, wentBack: Bool) -> (LedgerWatermark, started: Bool) {
        kept.withLock { kept in
            guard let current = kept else {
                kept = LedgerWatermark(generation: 0, reading: reading)
                return (kept!, false)
            }
            guard current == seen else { return (current, false) }
            if wentBack {
                kept = LedgerWatermark(generation: current.generation + 1, reading: reading)
                return (kept!, true)
            }
            if reading.server == current.reading.server, reading.sequence > current.reading.sequence {
                kept = LedgerWatermark(generation: current.generation, reading: reading)
            }
            return (kept!, false)
        }
    }
}

enum LedgerClockWatchMetrics {
    /// Times this node found the database gone back and dropped every cached level.
    static let drops = Counter(label: "bazaar_cache_dropped_database_went_back_total")
}
