public import BazaarDomain

/// What alert evaluation reads for a batch of one store's movements, a statement per kind and 100 products, where
/// `IntelligenceService.evaluate` alone reads each item's rows apart (`IntelligenceService.prepareEvaluation`).
/// Products are read `ReplenishmentQuery.excessWidth` at a time (one statement text whatever the batch; the ids
/// unique), on the primary: evaluation acts on what it reads.
public protocol EvaluationBatchStore: Sendable {
    /// The stored thresholds of the store's items among `productIDs`, by product id (an item without is absent).
    func thresholds(storeID: String, productIDs: [String]) async throws -> [String: StockThresholds]
    /// The active (unresolved) alerts of the store's items among `productIDs`.
    func activeAlerts(storeID: String, productIDs: [String]) async throws -> [Alert]
    /// `IntelligencePassStore.recomputeCandidates` for the store's items among `productIDs` only.
    func recomputeCandidates(storeID: String, productIDs: [String]) async throws -> [RecomputeCandidate]
}

extension ReplenishmentQuery {
    /// `ids` (unique) cut into lists of `excessWidth`, each padded (`padded`): the argument lists of a read by many ids.
    public static func paddedChunks(_ ids: [String]) -> [[String]] {
        stride(from: 0, to: ids.count, by: excessWidth).map { padded(Array(ids[$0..<min($0 + excessWidth, ids.count)])) }
    }
}
