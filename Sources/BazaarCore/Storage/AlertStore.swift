public import BazaarDomain

/// Alerts and their lifecycle. At most one active alert per store x product x condition, enforced by the engine
/// across nodes.
public protocol AlertStore: Sendable {
    /// Open or acknowledged alerts of one store x product.
    func activeAlerts(storeID: String, productID: String) async throws -> [Alert]
    /// Inserts new alerts (skipping any whose condition already has an active alert) and saves changed ones, with
    /// one outbox event per change, in one transaction. Returns the alerts actually inserted or changed.
    func recordAlerts(inserted: [Alert], changed: [Alert]) async throws -> [Alert]
    func alert(id: String) async throws -> Alert?
    /// Newest first; `beforeSequence` is the page cursor.
    func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?, limit: Int) async throws -> [Alert]
}
