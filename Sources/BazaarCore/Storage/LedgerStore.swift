public import BazaarDomain

/// The stock ledger: atomic writes and the reads of levels and history.
///
/// Engines do I/O only: the rules of a write (what is refused, what a movement records) live in `LedgerWrite`,
/// shared by every engine, and the storage contract suite (`StorageContractTests`) proves that they agree.
public protocol LedgerStore: Sendable {
    /// Applies a write atomically (group-committed with concurrent writes); throws `DomainError` for a refusal.
    func apply(_ request: WriteRequest) async throws -> WriteReceipt

    /// Applies requests one after the other, in this order, in one transaction: each gets its own outcome, and a
    /// refused one (`DomainError`) leaves nothing behind. An error of the transaction itself fails every request.
    /// For sources whose order matters, such as a Kafka partition.
    func applyInOrder(_ requests: [WriteRequest]) async -> [Result<WriteReceipt, any Error>]

    /// What the write that first used `claim`'s key made (`LedgerWrite.replay`), read where writes commit; nil for
    /// a key not used yet. For a call that must answer a retry before it knows what it would write.
    func replay(_ claim: IdempotencyClaim) async throws -> WriteReceipt?

    func level(storeID: String, productID: String) async throws -> StockLevel?
    func levels(storeID: String, afterProductID: String?, limit: Int) async throws -> [StockRow]
    func levels(productID: String, afterStoreID: String?, limit: Int) async throws -> [StockRow]
    /// Newest first.
    func auditLog(_ query: AuditQuery) async throws -> [Movement]
    /// Oldest first, strictly after `afterSequence`.
    func movements(afterSequence: Int64, limit: Int) async throws -> [Movement]
    /// Invariant 1's totals of one pair: its checkpoint (what `bazaar archive` removed, see `LedgerArchiveStore`; 0
    /// when none) plus the deltas and the number of its ledger rows after it, read in one snapshot.
    func ledgerTotals(storeID: String, productID: String) async throws -> (sum: Int64, rows: Int64)
}
