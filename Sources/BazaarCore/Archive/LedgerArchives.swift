import BazaarDomain

/// What the ledger's history answers (`/audit-logs`, `/v1/changes`) say about archived rows (`bazaar archive`):
/// the archived periods a query reaches, and a pair's balance at the last cut-off.
public struct LedgerArchives: Sendable {
    let store: (any LedgerArchiveStore)?

    /// `store` nil: an engine that never archives (every answer says nothing was archived).
    public init(store: (any LedgerArchiveStore)?) { self.store = store }

    /// For a page of `/audit-logs` read just before: the files its query reaches, and, for a query of one store x
    /// product once something was archived, that pair's checkpoint (`.some(nil)`: none of its rows was archived).
    /// Read after the ledger: a run that removed rows before the ledger was read had recorded its files before.
    public func reached(by query: AuditQuery) async throws -> (files: [ArchivedPeriod], checkpoint: LedgerCheckpoint??) {
        guard let store else { return ([], nil) }
        let archives = try await store.archives()
        guard !archives.isEmpty else { return ([], nil) }
        var checkpoint: LedgerCheckpoint?? = nil
        if let storeID = query.storeID, let productID = query.productID {
            checkpoint = .some(try await store.checkpoint(storeID: storeID, productID: productID))
        }
        return (ArchivedPeriods.reached(by: query, in: archives), checkpoint)
    }

    /// For a page of `/v1/changes` after `afterSequence`: the files the cursor has not passed.
    public func reached(afterSequence: Int64) async throws -> [ArchivedPeriod] {
        guard let store else { return [] }
        return ArchivedPeriods.reached(afterSequence: afterSequence, in: try await store.archives())
    }
}
