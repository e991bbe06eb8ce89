public import BazaarDomain
import Crypto

/// Transfers in transit: ship now, receive later; a shortfall opens a `shrinkage` alert at the destination.
public final class TransferService: Sendable {
    public let stock: StockService
    public let store: any TransferStore
    let clock: WallClock

    public init(stock: StockService, clock: WallClock = .system) {
        guard let store = stock.store as? any TransferStore else { preconditionFailure("\(type(of: stock.store)) does not store transfers") }
        self.stock = stock
        self.store = store
        self.clock = clock
    }

    public func ship(from source: String, to destination: String, productID: String, quantity: Int64, reference: String?,
                     actor: String, idempotencyKey: String?, scope: String) async throws -> TransferChange {
        guard source != destination else { throw DomainError.invalid(field: "to_store_id", message: "must differ from from_store_id") }
        guard quantity > 0, quantity <= MovementCommand.maxDelta else {
            throw DomainError.invalid(field: "quantity", message: "must be an integer from 1 to \(MovementCommand.maxDelta)")
        }
        try await stock.requireCatalog(storeID: source, productID: productID)
        guard try await stock.catalog.hasStore(destination) else { throw DomainError.unknownStore(destination) }
        let now = clock.nowMillis()
        let transfer = TransferInTransit(id: TransferID.next(), fromStoreID: source, toStoreID: destination, productID: productID,
                                         quantity: quantity, status: .inTransit, reference: reference, createdAtMillis: now, updatedAtMillis: now)
        _ = try transfer.shipmentCommand()  // the reference's rules, before anything is written
        let claim = try idempotencyKey.map { key in
            IdempotencyClaim(scope: scope, key: try StockService.validateIdempotencyKey(key),
                             fingerprint: Self.fingerprint(source, destination, productID, quantity, reference))
        }
        return await committed(try await store.shipTransfer(transfer, actor: actor, idempotency: claim))
    }

    public func receive(id: String, quantity: Int64?, actor: String) async throws -> TransferChange {
        let change = await committed(try await store.receiveTransfer(id: id, quantity: quantity, actor: actor))
        let t = change.transfer
        if let shortfall = t.shortfall, shortfall > 0 {
            let alert = Alert(id: "alr_" + Hex.random(bytes: 10), kind: .shrinkage, status: .open, storeID: t.toStoreID, productID: t.productID,
                              quantity: change.levels.first?.level.quantity ?? 0, threshold: Double(t.quantity),
                              message: "transfer \(t.id) from \(t.fromStoreID) arrived \(shortfall) short (\(t.received ?? 0) of \(t.quantity))",
                              openedAtMillis: t.updatedAtMillis)
            _ = try? await stock.store.recordAlerts(inserted: [alert], changed: [])
        }
        return change
    }

    public func transfer(id: String) async throws -> TransferInTransit {
        guard let transfer = try await store.transfer(id: id) else { throw DomainError.notFound(what: "transfer", id: id) }
        return transfer
    }

    private func committed(_ change: TransferChange) async -> TransferChange {
        guard !change.replayed else { return change }
        for (storeID, level) in change.levels {
            await stock.cache.offer(StockKey(storeID: storeID, productID: change.transfer.productID), level)
        }
        if let movement = change.movement { BazaarMetrics.movementApplied(reason: movement.reason.rawValue) }
        stock.outboxSignal.notify()
        return change
    }

    static func fingerprint(_ from: String, _ to: String, _ product: String, _ quantity: Int64, _ reference: String?) -> String {
        var text = "transfer-in-transit/v1;"
        for field in [from, to, product, String(quantity), reference.map { "r" + $0 } ?? "-"] { text += "\(field.utf8.count):\(field);" }
        return Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }
}
