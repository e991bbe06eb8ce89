import BazaarCore
import BazaarDomain

/// The demo chain's history, generated a day of the whole chain at a time (ledger order is time order, as in a real
/// chain), with what the write path would have recorded: each movement's quantities before and after, its version,
/// its audit fields, and each pair's level after the chunk.
///
/// The model is the one the API-path loader had, draw for draw: each store's generator is seeded from its id and
/// picks its assortment and each item's mean daily demand (a third are slow movers at 0.1-0.5 a day); every day an
/// opening count on the first, receipts arriving, a Poisson day of sales with a weekly rhythm (end-of-day z-reports),
/// a monthly count with a unit of shrinkage now and then, and a reorder when the level falls under a week of demand.
struct DemoHistory {
    struct Pair {
        var productID: String
        /// Mean daily demand.
        var rate: Double
        /// The ledger's level and version so far (the simulation's level is the ledger's).
        var level: Int64 = 0
        var version: Int64 = 0
        /// The day an ordered receipt arrives, nil when nothing is on order.
        var arrivalDay: Int64?
        var arrivalUnits: Int64 = 0
        /// Has a movement in the pending chunk.
        var touched = false
    }

    struct StoreState {
        var id: String
        var rng: SplitMix64
        var pairs: Range<Int>
    }

    static let weekly: [Double] = [0.8, 0.9, 0.9, 1.0, 1.2, 1.5, 1.1]  // Thursday 1970-01-01 is index 0
    static let actor = "demo-loader"

    private(set) var stores: [StoreState] = []
    private(set) var pairs: [Pair] = []
    let firstDay: Int64
    let recordedAtMillis: Int64
    private var ids: MonotonicIDBits
    /// Movements generated and not yet taken, in ledger order.
    private(set) var pending: [Movement] = []
    /// The daily demand rows of the pending movements, one per pair and day, made as each pair's day is generated
    /// (all of a pair's movements of a day are made together and never split between chunks): what
    /// `DemandDays.rollup(pending)` would answer, without its dictionary of string keys and its sort.
    private(set) var pendingDemand: [DemandDay] = []
    private var touched: [Int] = []

    init(_ demo: DemoData, storeIDs: [String], productIDs: [String], nowMillis: Int64) {
        firstDay = RFC3339.epochDay(millis: nowMillis) - Int64(demo.days)
        recordedAtMillis = nowMillis
        ids = MonotonicIDBits()
        stores.reserveCapacity(storeIDs.count)
        pairs.reserveCapacity(storeIDs.count * demo.productsPerStore)
        for storeID in storeIDs {
            // Seeded from the id's bytes only (String.hashValue changes from run to run), so every load is the same.
            var rng = SplitMix64(seed: demo.seed ^ storeID.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) })
            let assortment = DemoData.assortment(of: demo.productsPerStore, from: productIDs, rng: &rng)
            let first = pairs.count
            for productID in assortment {
                // Mean daily demand: most items sell a few a day, a third are slow movers.
                pairs.append(Pair(productID: productID, rate: rng.uniform() < 0.35 ? 0.1 + rng.uniform() * 0.4 : 1 + rng.uniform() * 12))
            }
            stores.append(StoreState(id: storeID, rng: rng, pairs: first..<pairs.count))
        }
    }

    /// Generates day `dayIndex` (0 is the first) for the stores from `fromStore` on, until the pending movements
    /// reach `limit` after a whole store or the day is done; returns the next store to generate (`stores.count`: done).
    mutating func generate(dayIndex: Int, fromStore: Int, limit: Int) -> Int {
        let day = firstDay + Int64(dayIndex)
        let at = day * 86_400_000 + 9 * 3_600_000
        let weekday = Int(((day % 7) + 7) % 7)
        let zReport = "z-report \(RFC3339.formatDate(epochDay: day))"
        var storeIndex = fromStore
        while storeIndex < stores.count && pending.count < limit {
            var rng = stores[storeIndex].rng
            let storeID = stores[storeIndex].id
            for index in stores[storeIndex].pairs {
                var pair = pairs[index]
                let firstMovement = pending.count
                if dayIndex == 0 {
                    let opening = Int64(pair.rate * 21) + 5
                    record(&pair, index, storeID, delta: opening - pair.level, .count, "opening count", at)
                }
                let arrivesToday = pair.arrivalDay == day
                if arrivesToday {
                    record(&pair, index, storeID, delta: pair.arrivalUnits, .receipt, "PO-\(storeID)-\(day)", at + 3_600_000)
                }
                let sold = min(max(pair.level, 0), rng.poisson(pair.rate * Self.weekly[weekday]))
                if sold > 0 {
                    record(&pair, index, storeID, delta: -sold, .sale, zReport, at + 10 * 3_600_000)
                }
                if day % 30 == 29, pair.level > 0, rng.uniform() < 0.3 {
                    record(&pair, index, storeID, delta: -1, .count, "monthly count", at + 12 * 3_600_000)
                }
                // Still on order today when it arrived today (the API-path loader's order of events).
                if pair.arrivalDay == nil, Double(pair.level) < pair.rate * 7 {
                    let lead = Int64(2 + rng.next() % 4)
                    pair.arrivalDay = day + lead
                    pair.arrivalUnits = Int64(pair.rate * 14) + 6
                }
                if arrivesToday { pair.arrivalDay = nil }
                pairs[index] = pair
                if pending.count > firstMovement { pendingDemand.append(demandDay(of: pending[firstMovement...], day: day)) }
            }
            stores[storeIndex].rng = rng
            storeIndex += 1
        }
        return storeIndex
    }

    /// One pair's demand row of `day` from its movements of the day (ledger order), as `DemandDays.rollup` rolls them up.
    private func demandDay(of movements: ArraySlice<Movement>, day: Int64) -> DemandDay {
        var sold: Int64 = 0, returned: Int64 = 0, inStock = false
        for m in movements {
            if m.reason == .sale { sold -= m.delta } else if m.reason == .return { returned += m.delta }
            inStock = inStock || m.quantityBefore > 0 || m.quantityAfter > 0
        }
        let last = movements[movements.endIndex - 1]
        return DemandDay(storeID: last.storeID, productID: last.productID, day: day, sold: sold, returned: returned, inStock: inStock,
                         closing: last.quantityAfter)
    }

    private mutating func record(_ pair: inout Pair, _ index: Int, _ storeID: String, delta: Int64, _ reason: MovementReason,
                                 _ reference: String, _ atMillis: Int64) {
        let before = pair.level
        pair.level += delta
        pair.version += 1
        if !pair.touched {
            pair.touched = true
            touched.append(index)
        }
        pending.append(Movement(
            sequence: 0, movementID: MovementID.make(millis: recordedAtMillis, random: &ids), storeID: storeID, productID: pair.productID,
            delta: delta, quantityBefore: before, quantityAfter: pair.level, version: pair.version, reason: reason, reference: reference,
            actor: Self.actor, atMillis: atMillis, recordedAtMillis: recordedAtMillis))
    }

    /// The pending movements, their demand rows and the level each touched pair has after them, as one chunk;
    /// pending starts empty again.
    mutating func takeChunk(publish: Bool) -> BulkLedgerChunk {
        var levels: [StockRow] = []
        levels.reserveCapacity(touched.count)
        for index in touched.sorted() {
            pairs[index].touched = false
            let pair = pairs[index]
            levels.append(StockRow(storeID: storeID(ofPair: index), productID: pair.productID,
                                   level: StockLevel(quantity: pair.level, version: pair.version, updatedAtMillis: recordedAtMillis)))
        }
        touched.removeAll(keepingCapacity: true)
        let chunk = BulkLedgerChunk(movements: pending, levels: levels, demand: pendingDemand, publish: publish)
        pending = []
        pending.reserveCapacity(chunk.movements.count)
        pendingDemand = []
        pendingDemand.reserveCapacity(chunk.demand?.count ?? 0)
        return chunk
    }

    /// The store of a pair index (stores hold consecutive ranges of pairs).
    private func storeID(ofPair index: Int) -> String {
        var low = 0, high = stores.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if stores[middle].pairs.lowerBound <= index { low = middle } else { high = middle - 1 }
        }
        return stores[low].id
    }
}

/// The random bits of the load's movement ids: a counter (RFC 9562's monotonic method: ids made in one millisecond
/// still sort in the order made, so the unique index on them is appended to, not written all over) behind a random
/// nonce of the load.
struct MonotonicIDBits: RandomNumberGenerator {
    private var counter: UInt64 = 0
    private let nonce: UInt64
    private var highWord = true

    init() {
        var system = SystemRandomNumberGenerator()
        nonce = (system.next() as UInt64) & 0x3FFF_FFFF
    }

    /// Alternates the two words `MovementID.make` draws: the counter's top bits (its 12-bit field), then the nonce and
    /// the counter's low 32 bits (its 62-bit field).
    mutating func next() -> UInt64 {
        defer { highWord.toggle() }
        if highWord { return counter >> 32 }
        defer { counter += 1 }
        return (nonce << 32) | (counter & 0xFFFF_FFFF)
    }
}
