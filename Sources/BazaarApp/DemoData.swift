public import BazaarCore
import BazaarDomain
import Foundation
public import Logging

/// Loads a living demo chain: stores, products and days of history with a weekly rhythm, intermittent slow movers,
/// receipts when stock runs low, monthly counts with a little shrinkage, and a few transfers between branches.
///
/// The history is written straight into storage (`BulkLoadStore`) in large transactions, a day of the whole chain at
/// a time in ledger order (the ledger of a real chain is in time order too), each commit leaving every stock row
/// equal to the sum of its ledger with its version counting the rows: a million store x product pairs with two weeks
/// of history loads in minutes where the API path took hours. The history publishes no events unless asked
/// (`publishHistory`): it is not news, and millions of old movements would only hold up the relay and every
/// consumer. The transfers at the end go through the transfer use case like any live write.
public struct DemoData: Sendable {
    public var stores = 300
    public var products = 2000
    public var productsPerStore = 25
    public var days = 90
    public var seed: UInt64 = 42
    /// Queue the history's events in the outbox as the API path would (`--publish-history`): for small demos whose
    /// consumers (webhooks, Kafka, the intelligence's movement consumer) should see it.
    public var publishHistory = false
    /// Movements per transaction (the last one holds the rest). Large enough that commits are rare, small enough that
    /// the write-ahead log stays a few hundred megabytes.
    public var chunkMovements = 250_000

    public init() {}

    public struct Summary: Sendable {
        public var stores: Int
        public var products: Int
        public var movements: Int
    }

    /// How far a load has got, reported after each day of history (the CLI prints it on standard error).
    public struct Progress: Sendable {
        public var daysDone: Int
        public var days: Int
        public var movements: Int
    }

    /// The largest sizes the loader accepts. Store and product ids stay short identifiers well inside these.
    public static let maxStores = 100_000
    public static let maxProducts = 1_000_000
    public static let maxDays = 3650
    /// Store x product pairs: the loader keeps a few dozen bytes of state per pair in memory.
    public static let maxPairs = 5_000_000
    /// Pairs x days: about a movement each, so a bound on the ledger a demo writes (tens of gigabytes at this bound).
    public static let maxPairDays = 200_000_000

    /// Refuses sizes the loader cannot honour, with a sentence that says what to pass instead.
    public func validate() throws(DemoSizeError) {
        guard (1...Self.maxStores).contains(stores) else {
            throw DemoSizeError("--stores must be from 1 to \(Self.maxStores) (got \(stores))")
        }
        guard (1...Self.maxProducts).contains(products) else {
            throw DemoSizeError("--products must be from 1 to \(Self.maxProducts) (got \(products))")
        }
        guard (1...products).contains(productsPerStore) else {
            throw DemoSizeError("--products-per-store must be from 1 to --products (\(products)) (got \(productsPerStore))")
        }
        guard (1...Self.maxDays).contains(days) else {
            throw DemoSizeError("--days must be from 1 to \(Self.maxDays) (got \(days))")
        }
        let pairs = stores * productsPerStore
        guard pairs <= Self.maxPairs else {
            throw DemoSizeError("--stores x --products-per-store must be at most \(Self.maxPairs) store x product pairs (got \(pairs)); pass fewer stores or products per store")
        }
        guard pairs * days <= Self.maxPairDays else {
            throw DemoSizeError("--days x store x product pairs must be at most \(Self.maxPairDays) (got \(pairs * days)); pass fewer days")
        }
    }

    /// Loads into an empty catalog and ledger; does nothing (returns nil) when stores already exist. `progress` is
    /// called after each day of history is generated (its transaction may still be on its way).
    public func load(into system: BazaarSystem, clock: WallClock = .system, logger: Logger,
                     progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Summary? {
        try validate()
        if try await !system.store.stores(afterID: nil, limit: 1).isEmpty { return nil }
        guard let bulk = system.store as? any BulkLoadStore else { throw DemoLoadError("this database engine cannot load demo history") }
        guard try await bulk.ledgerIsEmpty() else {
            throw DemoLoadError("the database has stock movements but no stores; use an empty database (--database-url) for a new demo")
        }
        let now = clock.nowMillis()
        let storeIDs = (1...stores).map { "S\(1000 + $0)" }
        let productIDs = (1...products).map { "P\(100_000 + $0)" }
        try await loadCatalog(storeIDs: storeIDs, productIDs: productIDs, nowMillis: now, into: bulk, system: system)
        var total = try await loadHistory(storeIDs: storeIDs, productIDs: productIDs, nowMillis: now, into: bulk, progress: progress)
        total += await rebalance(storeIDs, system: system)
        logger.info("demo data loaded", metadata: ["stores": "\(stores)", "products": "\(products)", "movements": "\(total)"])
        return Summary(stores: stores, products: products, movements: total)
    }

    /// 1. The catalog, in one transaction, and the in-memory catalog index the write path checks.
    private func loadCatalog(storeIDs: [String], productIDs: [String], nowMillis now: Int64, into bulk: any BulkLoadStore,
                             system: BazaarSystem) async throws {
        let catalogStores = storeIDs.enumerated().map { index, id in
            let city = Self.cities[index % Self.cities.count]
            return Store(id: id, name: "\(city) \(index / Self.cities.count + 1)",
                         attributesJSON: "{\"city\":\"\(city)\",\"format\":\"\(index % 5 == 0 ? "hyper" : "city")\"}",
                         createdAtMillis: now, updatedAtMillis: now)
        }
        let catalogProducts = productIDs.enumerated().map { index, id in
            let noun = Self.nouns[(index / Self.adjectives.count) % Self.nouns.count]
            return Product(id: id, name: "\(Self.adjectives[index % Self.adjectives.count]) \(noun)", attributesJSON: "{\"category\":\"\(noun)\"}",
                           leadTimeDays: 2 + index % 6, reviewPeriodDays: 7, packSize: [1, 6, 12, 24][index % 4], serviceLevel: 0.95,
                           createdAtMillis: now, updatedAtMillis: now)
        }
        try await bulk.insertCatalog(stores: catalogStores, products: catalogProducts)
        for id in storeIDs { system.stock.catalog.addStore(id) }
        for id in productIDs { system.stock.catalog.addProduct(id) }
    }

    /// 2. The ledger and the stock rows, a day of the whole chain at a time, in chunks; generating the next chunk
    /// while the engine writes the last. What the write path derives from movements (the daily demand rows and the
    /// audit's day index) each chunk writes in its own transaction (the demand rows possibly held aside until the
    /// end): `BulkLoadStore.appendBulk`. Answers the movements written.
    private func loadHistory(storeIDs: [String], productIDs: [String], nowMillis now: Int64, into bulk: any BulkLoadStore,
                             progress: @Sendable (Progress) -> Void) async throws -> Int {
        var history = DemoHistory(self, storeIDs: storeIDs, productIDs: productIDs, nowMillis: now)
        try await bulk.beginBulkLoad()
        var inFlight: Task<Void, any Error>?
        var total = 0
        for dayIndex in 0..<days {
            var nextStore = 0
            while nextStore < stores {
                nextStore = history.generate(dayIndex: dayIndex, fromStore: nextStore, limit: chunkMovements)
                guard history.pending.count >= chunkMovements || (dayIndex == days - 1 && nextStore == stores) else { continue }
                let chunk = history.takeChunk(publish: publishHistory)
                total += chunk.movements.count
                try await inFlight?.value
                inFlight = Task { try await bulk.appendBulk(chunk) }
            }
            progress(Progress(daysDone: dayIndex + 1, days: days, movements: total + history.pending.count))
        }
        try await inFlight?.value
        try await bulk.finishBulkLoad()
        return total
    }

    /// 3. A few transfers between branches, through the transfer use case like any live write. Answers the movements
    /// they wrote (best effort: a transfer that cannot be made is skipped).
    private func rebalance(_ storeIDs: [String], system: BazaarSystem) async -> Int {
        var rng = SplitMix64(seed: seed)
        var movements = 0
        for _ in 0..<20 {
            let from = storeIDs[Int(rng.next() % UInt64(storeIDs.count))]
            let to = storeIDs[Int(rng.next() % UInt64(storeIDs.count))]
            // (Read where listings are read: a replica still applying the load may not answer yet; the transfer is skipped.)
            guard from != to, let row = (try? await system.store.levels(storeID: from, afterProductID: nil, limit: 1))?.first,
                  row.level.quantity > 2 else { continue }
            _ = try? await system.stock.transfer(from: from, to: to, productID: row.productID, quantity: 2, reference: "rebalance",
                                                 actor: "demo-loader", idempotencyKey: nil, scope: "demo")
            movements += 2
        }
        return movements
    }

    /// `count` distinct products drawn from `productIDs`: by rejection while that is cheap, else by a partial
    /// shuffle (a store carrying most of the catalog would wait long for the last few unseen ids).
    static func assortment(of count: Int, from productIDs: [String], rng: inout SplitMix64) -> [String] {
        let count = min(count, productIDs.count)
        if count * 2 <= productIDs.count {
            var picked = Set<String>()
            while picked.count < count { picked.insert(productIDs[Int(rng.next() % UInt64(productIDs.count))]) }
            return picked.sorted()
        }
        var pool = productIDs
        for index in 0..<count { pool.swapAt(index, index + Int(rng.next() % UInt64(pool.count - index))) }
        return pool[..<count].sorted()
    }

    static let cities = ["London", "Leeds", "Bristol", "Glasgow", "Cardiff", "Belfast", "York", "Bath", "Derby", "Hull", "Oxford", "Leicester"]
    static let adjectives = ["Organic", "Classic", "Family", "Premium", "Smart", "Fresh", "Everyday", "Deluxe", "Mini", "Eco"]
    static let nouns = ["oat milk", "coffee beans", "pasta", "olive oil", "rice", "tea", "granola", "chocolate", "tomatoes", "batteries",
                        "dish soap", "shampoo", "notebook", "socks", "candles", "light bulbs", "honey", "crisps", "yoghurt", "bread"]
}

/// Demo sizes outside what the loader accepts; the message names the flag and its range.
public struct DemoSizeError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A demo that cannot be loaded into this database, in words.
public struct DemoLoadError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A small deterministic generator, so every demo load is the same.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Knuth's Poisson sampler (fine for the small means used here).
    mutating func poisson(_ mean: Double) -> Int64 {
        let limit = (-mean).exp
        var k: Int64 = 0
        var p = 1.0
        repeat { k += 1; p *= uniform() } while p > limit
        return k - 1
    }
}

extension Double {
    var exp: Double { Foundation.exp(self) }
}
