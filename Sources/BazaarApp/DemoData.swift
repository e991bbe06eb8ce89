public import BazaarCore
import BazaarDomain
import Foundation
public import Logging

/// Loads a living demo chain through the same service code the API uses: stores, products and days of
/// history with a weekly rhythm, intermittent slow movers, receipts when stock runs low, monthly counts
/// with a little shrinkage, and a few transfers between branches.
public struct DemoData: Sendable {
    public var stores = 300
    public var products = 2000
    public var productsPerStore = 25
    public var days = 90
    public var seed: UInt64 = 42

    public init() {}

    public struct Summary: Sendable {
        public var stores: Int
        public var products: Int
        public var movements: Int
    }

    /// How far a load has got, reported after each group of stores (the CLI prints it on standard error).
    public struct Progress: Sendable {
        public var storesDone: Int
        public var stores: Int
        public var movements: Int
    }

    /// The largest sizes the loader accepts. Store and product ids stay short identifiers well inside these.
    public static let maxStores = 100_000
    public static let maxProducts = 1_000_000
    public static let maxDays = 3650

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
    }

    /// Loads into an empty catalog; does nothing (returns nil) when stores already exist. `progress` is called
    /// after each group of stores has all its history written.
    public func load(into system: BazaarSystem, clock: WallClock = .system, logger: Logger,
                     progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Summary? {
        try validate()
        if try await !system.store.stores(afterID: nil, limit: 1).isEmpty { return nil }
        let now = clock.nowMillis()
        let storeIDs = (1...stores).map { "S\(1000 + $0)" }
        let productIDs = (1...products).map { "P\(100_000 + $0)" }
        for (index, id) in storeIDs.enumerated() {
            let city = Self.cities[index % Self.cities.count]
            _ = try await system.store.upsertStore(Store(
                id: id, name: "\(city) \(index / Self.cities.count + 1)",
                attributesJSON: "{\"city\":\"\(city)\",\"format\":\"\(index % 5 == 0 ? "hyper" : "city")\"}",
                createdAtMillis: now, updatedAtMillis: now))
            system.stock.catalog.addStore(id)
        }
        for (index, id) in productIDs.enumerated() {
            let name = "\(Self.adjectives[index % Self.adjectives.count]) \(Self.nouns[(index / Self.adjectives.count) % Self.nouns.count])"
            _ = try await system.store.upsertProduct(Product(
                id: id, name: name, attributesJSON: "{\"category\":\"\(Self.nouns[(index / Self.adjectives.count) % Self.nouns.count])\"}",
                leadTimeDays: 2 + index % 6, reviewPeriodDays: 7, packSize: [1, 6, 12, 24][index % 4], serviceLevel: 0.95,
                createdAtMillis: now, updatedAtMillis: now))
            system.stock.catalog.addProduct(id)
        }
        let today = RFC3339.epochDay(millis: now)
        let firstDay = today - Int64(days)
        let weekly: [Double] = [0.8, 0.9, 0.9, 1.0, 1.2, 1.5, 1.1]  // Thursday 1970-01-01 is index 0
        let seed = self.seed
        let storeChunks = stride(from: 0, to: storeIDs.count, by: 8).map { Array(storeIDs[$0..<min($0 + 8, storeIDs.count)]) }
        var total = 0
        var storesDone = 0
        for chunk in storeChunks {
            total += try await withThrowingTaskGroup(of: Int.self) { group in
                for storeID in chunk {
                    group.addTask {
                        // Seeded from the id's bytes only (String.hashValue changes from run to run), so every load is the same.
                        var rng = SplitMix64(seed: seed ^ storeID.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) })
                        let assortment = Self.assortment(of: productsPerStore, from: productIDs, rng: &rng)
                        // Mean daily demand: most items sell a few a day, a third are slow movers.
                        let items = assortment.map { id -> (String, Double) in
                            (id, rng.uniform() < 0.35 ? 0.1 + rng.uniform() * 0.4 : 1 + rng.uniform() * 12)
                        }
                        var onHand = [String: Int64]()
                        var pendingReceipts = [Int64: [(String, Int64)]]()
                        var onOrder = Set<String>()
                        var written = 0
                        for day in firstDay..<today {
                            var commands: [MovementCommand] = []
                            let at = day * 86_400_000 + 9 * 3_600_000
                            for (productID, rate) in items {
                                var level = onHand[productID] ?? 0
                                if day == firstDay {
                                    level = Int64(rate * 21) + 5
                                    commands.append(try MovementCommand(storeID: storeID, productID: productID, change: .quantity(level), reason: .count, reference: "opening count", occurredAtMillis: at))
                                }
                                for (arrivingID, units) in pendingReceipts[day] ?? [] where arrivingID == productID {
                                    level += units
                                    commands.append(try MovementCommand(storeID: storeID, productID: productID, change: .delta(units), reason: .receipt, reference: "PO-\(storeID)-\(day)", occurredAtMillis: at + 3_600_000))
                                }
                                let weekday = Int(((day % 7) + 7) % 7)
                                let sold = min(max(level, 0), rng.poisson(rate * weekly[weekday]))
                                if sold > 0 {
                                    level -= sold
                                    commands.append(try MovementCommand(storeID: storeID, productID: productID, change: .delta(-sold), reason: .sale, reference: "z-report \(RFC3339.formatDate(epochDay: day))", occurredAtMillis: at + 10 * 3_600_000))
                                }
                                if day % 30 == 29, level > 0, rng.uniform() < 0.3 {
                                    level -= 1
                                    commands.append(try MovementCommand(storeID: storeID, productID: productID, change: .quantity(level), reason: .count, reference: "monthly count", occurredAtMillis: at + 12 * 3_600_000))
                                }
                                if !onOrder.contains(productID), Double(level) < rate * 7 {
                                    let lead = Int64(2 + rng.next() % 4)
                                    pendingReceipts[day + lead, default: []].append((productID, Int64(rate * 14) + 6))
                                    onOrder.insert(productID)
                                }
                                onHand[productID] = level
                            }
                            for (arrivedID, _) in pendingReceipts[day] ?? [] { onOrder.remove(arrivedID) }
                            pendingReceipts[day] = nil
                            // A store's day can hold more movements than one write may (the API's batch limit):
                            // it goes in slices of at most that many, in order.
                            for start in stride(from: 0, to: commands.count, by: StockService.maxBatchSize) {
                                let slice = Array(commands[start..<min(start + StockService.maxBatchSize, commands.count)])
                                _ = try await system.stock.write(slice, actor: "demo-loader", scope: "demo")
                            }
                            written += commands.count
                        }
                        return written
                    }
                }
                return try await group.reduce(0, +)
            }
            storesDone += chunk.count
            progress(Progress(storesDone: storesDone, stores: storeIDs.count, movements: total))
        }
        // A few transfers between branches, through the transfer use case.
        var rng = SplitMix64(seed: seed)
        for _ in 0..<20 {
            let from = storeIDs[Int(rng.next() % UInt64(storeIDs.count))]
            let to = storeIDs[Int(rng.next() % UInt64(storeIDs.count))]
            guard from != to, let row = try await system.store.levels(storeID: from, afterProductID: nil, limit: 1).first, row.level.quantity > 2 else { continue }
            _ = try? await system.stock.transfer(from: from, to: to, productID: row.productID, quantity: 2, reference: "rebalance",
                                                 actor: "demo-loader", idempotencyKey: nil, scope: "demo")
            total += 2
        }
        logger.info("demo data loaded", metadata: ["stores": "\(stores)", "products": "\(products)", "movements": "\(total)"])
        return Summary(stores: stores, products: products, movements: total)
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
