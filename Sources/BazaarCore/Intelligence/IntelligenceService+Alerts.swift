public import BazaarDomain
import BazaarForecasting
import Foundation

/// Alerts: opened and resolved as movements are evaluated, acknowledged or resolved by people.
extension IntelligenceService {
    /// Opens the alerts a committed movement calls for and resolves the level conditions it cleared.
    /// At most one active alert per condition (the store enforces it too, across nodes).
    @discardableResult
    public func evaluate(_ movement: Movement) async throws -> [Alert] {
        let t = try await thresholds(storeID: movement.storeID, productID: movement.productID)
        let (quantity, position) = try await judgedLevel(movement, thresholds: t)
        let levelKinds = AlertRules.levelConditions(quantity: quantity, thresholds: t, position: position)
        let eventKinds = AlertRules.eventConditions(movement, thresholds: t)
        let key = StockKey(storeID: movement.storeID, productID: movement.productID)
        if eventKinds.contains(.demandAnomaly), t.computedAtMillis > 0 {
            // Demand has shifted: recompute the thresholds on the next movement. A row already due is left as it is:
            // marking it again would replace the mark a settings PUT is about to re-derive it under (`reDerive`).
            // Only over the row `t` came from: a settings PUT or the pass may have replaced it since this evaluation
            // read it, and the older target and levels must not come back over theirs (`dueMarker`).
            var stale = t
            stale.computedAtMillis = Self.dueMarker()
            try await demandStore.saveThresholds([(movement.productID, stale, expectedComputedAt: t.computedAtMillis)], storeID: movement.storeID)
            cache.withLock { $0.invalidate(key) }  // after the write: see `ThresholdCache`
        }
        let now = clock.nowMillis()
        if let known = self.activeKinds.withLock({ $0[key] }), now - known.atMillis < Self.activeKindsTTLMillis,
            levelKinds.union(eventKinds).isSubset(of: known.kinds), known.kinds.filter(\.isLevelCondition).allSatisfy(levelKinds.contains)
        {
            return []  // nothing to open, nothing to resolve
        }
        let active = try await store.activeAlerts(storeID: movement.storeID, productID: movement.productID)
        let activeKinds = Set(active.map(\.kind))
        let inserted = levelKinds.union(eventKinds).subtracting(activeKinds).sorted { $0.rawValue < $1.rawValue }.map { kind in
            Alert(id: "alr_" + Hex.random(bytes: 10), kind: kind, status: .open, storeID: movement.storeID, productID: movement.productID,
                  quantity: quantity, threshold: Self.threshold(kind, t),
                  message: AlertRules.message(kind, quantity: quantity, thresholds: t), openedAtMillis: now)
        }
        let resolved = active.filter { $0.kind.isLevelCondition && !levelKinds.contains($0.kind) }.map { alert in
            var alert = alert
            alert.status = .resolved
            alert.quantity = quantity
            alert.resolvedAtMillis = now
            return alert
        }
        var recorded: [Alert] = []
        if !inserted.isEmpty || !resolved.isEmpty {
            recorded = try await store.recordAlerts(inserted: inserted, changed: resolved)
        }
        let nowActive = activeKinds.union(inserted.map(\.kind)).subtracting(resolved.map(\.kind))
        self.activeKinds.withLock { cache in
            if cache.count > 200_000 { cache.removeAll() }
            cache[key] = (nowActive, now)
        }
        return recorded
    }

    /// The stock a movement's level conditions are judged on: on hand, and the inventory position (on hand +
    /// incoming - reserved, issue 17) where reserved or incoming stock exists. Both always come from one level, never
    /// an older quantity with newer reservations (which opened alerts no level ever called for):
    /// - the level known now is this movement's: its quantity, with the row's reserved and incoming stock now;
    /// - it is newer (a consumer behind its topic): that level, whole. A newer movement's evaluation comes anyway, in
    ///   order, and judges the same level;
    /// - it trails the movement (memory and the replica not there yet): the movement's quantity alone, no position.
    /// Below zero is a fact of the movement whatever came after (a sale recorded without stock: `negative_stock` asks
    /// for a count), judged on its own quantity. The level is read only where thresholds exist.
    func judgedLevel(_ movement: Movement, thresholds t: StockThresholds) async throws -> (quantity: Int64, position: Int64?) {
        guard movement.quantityAfter >= 0, t.reorderPoint > 0 || t.dailyRate > 0,
              let level = try await currentLevel(movement.storeID, movement.productID, movement.version),
              level.version >= movement.version
        else { return (movement.quantityAfter, nil) }
        let quantity = level.version > movement.version ? level.quantity : movement.quantityAfter
        return (quantity, level.reserved != 0 || level.incoming != 0 ? quantity + level.incoming - level.reserved : nil)
    }

    static func threshold(_ kind: AlertKind, _ t: StockThresholds) -> Double? {
        switch kind {
        case .lowStock: t.alertLevel
        case .overstock: t.orderUpTo
        case .stockOutRisk: Double(t.leadTimeDays)
        case .demandAnomaly: t.anomalyAbove
        case .stockOut, .negativeStock, .shrinkage, .overReserved: nil
        }
    }

    /// A page of alerts, newest first; `beforeSequence` is the cursor.
    public func alerts(storeID: String?, productID: String?, kind: AlertKind?, status: AlertStatus?, beforeSequence: Int64?,
                       limit: Int) async throws -> [Alert] {
        try await store.alerts(storeID: storeID, productID: productID, kind: kind, status: status, beforeSequence: beforeSequence, limit: limit)
    }

    /// The alert, or `DomainError.notFound`.
    public func alert(id: String) async throws -> Alert {
        guard let alert = try await store.alert(id: id) else { throw DomainError.notFound(what: "alert", id: id) }
        return alert
    }

    /// open -> acknowledged (by a person); any active alert -> resolved by hand.
    public func setStatus(alertID: String, to status: AlertStatus, by actor: String) async throws -> Alert {
        guard var alert = try await store.alert(id: alertID) else { throw DomainError.notFound(what: "alert", id: alertID) }
        guard alert.status != .resolved else { throw DomainError.invalid(field: "status", message: "alert \(alertID) is already resolved") }
        let now = clock.nowMillis()
        switch status {
        case .acknowledged:
            guard alert.status == .open else { return alert }
            alert.status = .acknowledged
            alert.acknowledgedAtMillis = now
            alert.acknowledgedBy = actor
        case .resolved:
            alert.status = .resolved
            alert.resolvedAtMillis = now
        case .open:
            throw DomainError.invalid(field: "status", message: "alerts are opened by the system")
        }
        _ = try await store.recordAlerts(inserted: [], changed: [alert])
        activeKinds.withLock { _ = $0.removeValue(forKey: StockKey(storeID: alert.storeID, productID: alert.productID)) }
        return alert
    }
}
