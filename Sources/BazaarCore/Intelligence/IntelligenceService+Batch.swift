public import BazaarDomain
import BazaarForecasting

/// A batch of movements read for in a few statements per store, before each is evaluated (`evaluate`).
///
/// Evaluating a movement alone reads what this node does not hold: the item's thresholds (and, for an item never
/// evaluated, its product, override and demand rows, then an insert of its first thresholds in a transaction of
/// its own) and its active alerts. A consumer of the movement topic catching up on a chain's items made two to six
/// round trips and a durable commit per item: of 30,000 commands for 100 stores x 100 products ingested from Kafka,
/// the ledger held all after 2.6 s and the node's alerts had caught up after 18.7 s, at five times the ledger's CPU
/// (BENCHMARKS.md, issue 15's tenth stop).
/// `prepareEvaluation` reads the same for the whole batch, a store at a time, and installs it where `evaluate` looks
/// first: the thresholds cache (with its ticket, so an invalidation during the reads still wins) and the active
/// alert kinds. Each `evaluate` then judges as before, from memory; what the batch left out (an item whose product
/// is not in the catalog or that has no stock row, an install its ticket refused, a store whose reads failed) it
/// reads itself. On a quiet database the judgements are the single path's (`EvaluationBatchTests`); what others
/// change meanwhile (an alert resolved by hand, a settings change on another node) is read up to the length of a
/// batch earlier than one by one, well within what the caches already allow (30 s thresholds, 10 s alert kinds).
extension IntelligenceService {
    /// Stores whose reads fail are left to their evaluations' own reads; the others are prepared all the same, and the
    /// first failure is thrown at the end (cancellation at once).
    public func prepareEvaluation(of movements: [Movement]) async throws {
        var products: [String: Set<String>] = [:]
        for movement in movements { products[movement.storeID, default: []].insert(movement.productID) }
        var failure: (any Error)?
        for (storeID, ids) in products.sorted(by: { $0.key < $1.key }) {
            try Task.checkCancellation()
            let productIDs = ids.sorted()
            do {
                try await prepareThresholds(storeID: storeID, productIDs: productIDs)
                try await prepareActiveKinds(storeID: storeID, productIDs: productIDs)
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
    }

    /// The thresholds of the store's items among `productIDs` that this node does not hold fresh: stored, else first
    /// computed and stored.
    private func prepareThresholds(storeID: String, productIDs: [String]) async throws {
        let now = clock.nowMillis()
        // The ticket before the reads: an invalidation from here on refuses what they found (`ThresholdCache`).
        let (unknown, ticket) = cache.withLock { cache in
            (productIDs.filter { id in cache[StockKey(storeID: storeID, productID: id)].map { now - $0.atMillis >= Self.cacheTTLMillis } ?? true },
             cache.ticket)
        }
        guard !unknown.isEmpty else { return }
        var found = try await store.thresholds(storeID: storeID, productIDs: unknown)
        let unevaluated = unknown.filter { found[$0] == nil }
        if !unevaluated.isEmpty {
            found.merge(try await firstThresholds(storeID: storeID, productIDs: unevaluated, now: now)) { stored, _ in stored }
        }
        for (productID, thresholds) in found { remember(StockKey(storeID: storeID, productID: productID), thresholds, ticket: ticket, at: now) }
    }

    /// The first thresholds of items never evaluated, as `thresholds(storeID:productID:)` computes and stores one
    /// (`firstThresholds(history:...)`), for the whole list: its candidates, demand rows and
    /// one transaction of inserts. Where another writer stored an item's first (the insert leaves it), that stands.
    private func firstThresholds(storeID: String, productIDs: [String], now: Int64) async throws -> [String: StockThresholds] {
        // An item whose product is not in the catalog is sized on the defaults by the single path: left to it.
        let items = try await store.recomputeCandidates(storeID: storeID, productIDs: productIDs).filter { $0.productUpdatedAtMillis != nil }
        guard !items.isEmpty else { return [:] }
        let today = RFC3339.epochDay(millis: now)
        var days: [String: [DemandDay]] = [:]
        for row in try await demandStore.demandDays(storeID: storeID, productIDs: items.map(\.productID), sinceDay: today - Self.spanHistoryDays) {
            days[row.productID, default: []].append(row)
        }
        var computed: [(productID: String, thresholds: StockThresholds, expectedComputedAt: Int64?)] = []
        for item in items {
            let (history, censored, spans) = Self.histories(days[item.productID] ?? [], today: today)
            computed.append((item.productID, firstThresholds(history: history, censoredDays: censored, parameters: item.parameters,
                                                             spanHistory: spans, nowMillis: now), nil))
        }
        var result = Dictionary(computed.map { ($0.productID, $0.thresholds) }, uniquingKeysWith: { first, _ in first })
        if try await demandStore.saveThresholds(computed, storeID: storeID) < computed.count {
            result.merge(try await store.thresholds(storeID: storeID, productIDs: computed.map(\.productID))) { _, stored in stored }
        }
        return result
    }

    /// The active alert kinds of the store's items among `productIDs` that this node does not hold fresh.
    private func prepareActiveKinds(storeID: String, productIDs: [String]) async throws {
        let now = clock.nowMillis()
        let unknown = activeKinds.withLock { known in
            productIDs.filter { id in known[StockKey(storeID: storeID, productID: id)].map { now - $0.atMillis >= Self.activeKindsTTLMillis } ?? true }
        }
        guard !unknown.isEmpty else { return }
        var kinds = Dictionary(uniqueKeysWithValues: unknown.map { ($0, Set<AlertKind>()) })
        for alert in try await store.activeAlerts(storeID: storeID, productIDs: unknown) { kinds[alert.productID]?.insert(alert.kind) }
        activeKinds.withLock { known in
            if known.count > 200_000 { known.removeAll() }
            for (productID, found) in kinds {
                let key = StockKey(storeID: storeID, productID: productID)
                // An evaluation that recorded alerts while this read ran left a fresher entry: it stands.
                if let entry = known[key], now - entry.atMillis < Self.activeKindsTTLMillis { continue }
                known[key] = (found, now)
            }
        }
    }
}

extension RecomputeCandidate {
    /// Its replenishment parameters, the defaults where the product and the store's override leave one unset.
    var parameters: ReplenishmentParameters {
        ReplenishmentParameters(
            leadTime: leadTimeDays ?? Product.defaultLeadTimeDays, reviewPeriod: reviewPeriodDays ?? Product.defaultReviewPeriodDays,
            packSize: packSize ?? Product.defaultPackSize, serviceLevel: serviceLevel ?? Product.defaultServiceLevel, fillRate: fillRate)
    }
}
