/// The current stock of one store x product. `version` counts its ledger rows (invariant 1).
///
/// Beside the ledger's `quantity` (on hand), the inventory states of DESIGN.md: `reserved` (the sum of active
/// reservations) and `incoming` (open purchase orders and transfers in transit to the store). They change without a
/// ledger row, so they do not move `version`; `stateChanges` counts their changes instead, and `revision`
/// (`version + stateChanges`) orders every state of the row: caches compare revisions (invariant 4).
public struct StockLevel: Sendable, Equatable {
    public var quantity: Int64
    public var version: Int64
    /// Commit time of the last movement, epoch milliseconds; 0 when there is none yet.
    public var updatedAtMillis: Int64
    public var reserved: Int64
    public var incoming: Int64
    /// Changes of `reserved` or `incoming` (no ledger row, so not counted by `version`).
    public var stateChanges: Int64

    public init(quantity: Int64, version: Int64, updatedAtMillis: Int64, reserved: Int64 = 0, incoming: Int64 = 0, stateChanges: Int64 = 0) {
        self.quantity = quantity
        self.version = version
        self.updatedAtMillis = updatedAtMillis
        self.reserved = reserved
        self.incoming = incoming
        self.stateChanges = stateChanges
    }

    /// On hand less what active reservations hold (negative only after facts recorded over reservations).
    public var available: Int64 { quantity - reserved }
    /// Grows with every change of the row, ledger or state: what caches order values by.
    public var revision: Int64 { version + stateChanges }

    /// A product in the catalog with no movement yet in a store.
    public static let empty = StockLevel(quantity: 0, version: 0, updatedAtMillis: 0)
}

/// A bound that a command planned from an earlier read puts on the level it changes, checked under the row's lock
/// (`StockRules.apply`): the replenishment plan's actions. Two calls acting on one plan at once, or a plan read before
/// the destination was replenished or the source drawn, would otherwise move or order what is no longer needed. A
/// bound on quantities, not on versions: a sale meanwhile (the destination's position falls, the source's available
/// too) changes nothing the plan relied on and refuses nothing; a source that sold part of what the plan would take
/// gives what it can still spare.
public enum PlannedBound: Sendable, Equatable, Hashable {
    /// The destination's inventory position (on hand + incoming - reserved) before the change is at most this: what
    /// the plan read (a rise means it was replenished meanwhile).
    case positionAtMost(Int64)
    /// A plan's transfer source: it gives what the plan asked or, when its available stock (on hand - reserved) fell
    /// meanwhile, what keeps it at this floor (its own order-up-to level); refused only when it has nothing above
    /// the floor. Refusing instead, steady sales at a source whose whole excess the plan moves refused every try.
    case sparesDownTo(Int64)
    /// A plan's transfer destination: its position before is at most `positionAtMost`, as `positionAtMost`, and it
    /// receives what the write's previous command (its source, `sparesDownTo`) gave, never more than its own delta.
    case receivesWhatTheSourceGave(positionAtMost: Int64)

    /// Whether the bound holds for a change from `level` to an on-hand quantity of `after`.
    public func holds(_ level: StockLevel, after: Int64) -> Bool {
        switch self {
        case .positionAtMost(let planned), .receivesWhatTheSourceGave(let planned):
            level.quantity + level.incoming - level.reserved <= planned
        case .sparesDownTo(let floor): after - level.reserved >= floor
        }
    }

    /// The delta a command of `requested` makes under this bound at `level`, `previous` being the delta the write's
    /// command before it made; nil when it can make none (nothing to spare above the floor).
    func delta(_ requested: Int64, at level: StockLevel, previous: Int64?) -> Int64? {
        switch self {
        case .positionAtMost: return requested
        case .sparesDownTo(let floor):
            let spare = level.quantity - level.reserved - floor
            return spare > 0 ? max(requested, -spare) : nil
        case .receivesWhatTheSourceGave:
            // Only ever the second command of a transfer's pair (`StockService.transfers`), after a source that gave.
            guard let previous, previous < 0, requested > 0 else { return nil }
            return min(-previous, requested)
        }
    }

    var fingerprint: String {
        switch self {
        case .positionAtMost(let p): "p\(p)"
        case .sparesDownTo(let a): "s\(a)"
        case .receivesWhatTheSourceGave(let p): "r\(p)"
        }
    }
}

/// What a movement asks for: a relative change or an absolute count.
public enum StockChange: Sendable, Equatable, Hashable {
    case delta(Int64)
    case quantity(Int64)
}

/// One requested change to one store x product, validated at construction.
public struct MovementCommand: Sendable, Equatable, Hashable {
    public static let maxDelta: Int64 = 1_000_000_000
    public static let maxQuantity: Int64 = 1_000_000_000_000
    public static let maxReferenceLength = 128

    public let storeID: String
    public let productID: String
    public let change: StockChange
    public let reason: MovementReason
    public let reference: String?
    public let expectedVersion: Int64?
    /// When it happened in the store (epoch ms), if the source knows better than the commit time.
    public let occurredAtMillis: Int64?
    /// A bound from an earlier read of the level (the replenishment plan's actions); never from a client's body.
    public let planned: PlannedBound?

    /// Validates every field. `fieldPrefix` prefixes field names in errors (for batch items: `movements[3].`).
    public init(
        storeID: String,
        productID: String,
        change: StockChange,
        reason: MovementReason? = nil,
        reference: String? = nil,
        expectedVersion: Int64? = nil,
        occurredAtMillis: Int64? = nil,
        planned: PlannedBound? = nil,
        fieldPrefix: String = ""
    ) throws(DomainError) {
        try Identifier.validate(storeID, field: fieldPrefix + "store_id")
        try Identifier.validate(productID, field: fieldPrefix + "product_id")
        let resolvedReason = try Self.validate(change, reason: reason, fieldPrefix: fieldPrefix)
        if let reference { try Self.validate(reference: reference, fieldPrefix: fieldPrefix) }
        if let expectedVersion, expectedVersion < 0 {
            throw .invalid(field: fieldPrefix + "expected_version", message: "must be an integer >= 0")
        }
        self.storeID = storeID
        self.productID = productID
        self.change = change
        self.reason = resolvedReason
        self.reference = reference
        self.expectedVersion = expectedVersion
        self.occurredAtMillis = occurredAtMillis
        self.planned = planned
    }

    /// The change's bounds and its reason's: the reason it resolves to (`adjustment` for a delta, `count` for a
    /// quantity, when none is given).
    private static func validate(_ change: StockChange, reason: MovementReason?, fieldPrefix: String) throws(DomainError) -> MovementReason {
        switch change {
        case .delta(let delta):
            let resolved = reason ?? .adjustment
            guard delta != 0 else {
                throw .invalid(field: fieldPrefix + "delta", message: "must be a non-zero integer")
            }
            guard delta.magnitude <= maxDelta.magnitude else {
                throw .invalid(field: fieldPrefix + "delta", message: "must be between -\(maxDelta) and \(maxDelta)")
            }
            if resolved == .count {
                throw .invalid(field: fieldPrefix + "reason", message: "a count sets an absolute `quantity`; send `quantity` instead of `delta`")
            }
            switch resolved.requiredSign {
            case .negative? where delta > 0:
                throw .invalid(field: fieldPrefix + "delta", message: "must be negative for reason `\(resolved.rawValue)`")
            case .positive? where delta < 0:
                throw .invalid(field: fieldPrefix + "delta", message: "must be positive for reason `\(resolved.rawValue)`")
            default: return resolved
            }
        case .quantity(let quantity):
            let resolved = reason ?? .count
            guard quantity >= 0, quantity <= maxQuantity else {
                throw .invalid(field: fieldPrefix + "quantity", message: "must be an integer from 0 to \(maxQuantity)")
            }
            guard resolved == .count || resolved == .adjustment else {
                throw .invalid(
                    field: fieldPrefix + "reason",
                    message: "an absolute `quantity` takes reason `count` or `adjustment`; use `delta` for `\(resolved.rawValue)`"
                )
            }
            return resolved
        }
    }

    /// Counted in Unicode scalars, as JSON Schema's maxLength counts (the contract) and as a utf8mb4 VARCHAR(128)
    /// holds them; no control characters.
    private static func validate(reference: String, fieldPrefix: String) throws(DomainError) {
        guard reference.unicodeScalars.count <= maxReferenceLength else {
            throw .invalid(field: fieldPrefix + "reference", message: "must be at most \(maxReferenceLength) characters")
        }
        guard !reference.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field: fieldPrefix + "reference", message: "must not contain control characters")
        }
    }

    /// A stable text of the request's meaning, used to tell a retry from a different request under the same idempotency key.
    public var fingerprint: String {
        let change: String
        switch self.change {
        case .delta(let d): change = "d\(d)"
        case .quantity(let q): change = "q\(q)"
        }
        return "\(storeID)|\(productID)|\(change)|\(reason.rawValue)|\(reference ?? "\u{0}")|\(expectedVersion.map(String.init) ?? "-")|\(occurredAtMillis.map(String.init) ?? "-")"
            + (planned.map { "|" + $0.fingerprint } ?? "")
    }
}

/// The pure rule that turns a command and the current level into the next level (invariants 1 and 5).
public enum StockRules {
    /// Bound on any level, far from Int64 overflow.
    public static let maxAbsoluteLevel: Int64 = 1_000_000_000_000_000

    /// Returns the delta to record and the new level, or throws why the command is refused. `previousDelta` is what
    /// the write's command before this one recorded (a planned transfer's destination receives what its source gave).
    public static func apply(
        _ command: MovementCommand,
        to current: StockLevel,
        atMillis now: Int64,
        previousDelta: Int64? = nil
    ) throws(DomainError) -> (delta: Int64, next: StockLevel) {
        if let expected = command.expectedVersion, expected != current.version {
            throw .versionConflict(
                storeID: command.storeID, productID: command.productID, expected: expected, actual: current.version)
        }
        var delta: Int64
        switch command.change {
        case .delta(let d): delta = d
        case .quantity(let q): delta = q - current.quantity
        }
        if let planned = command.planned {
            guard let made = planned.delta(delta, at: current, previous: previousDelta) else {
                throw .planChanged(storeID: command.storeID, productID: command.productID)
            }
            delta = made
        }
        let after = current.quantity + delta
        guard after.magnitude <= maxAbsoluteLevel.magnitude else {
            throw .invalid(field: "delta", message: "would take the level beyond \(maxAbsoluteLevel) in magnitude")
        }
        if let planned = command.planned, !planned.holds(current, after: after) {
            throw .planChanged(storeID: command.storeID, productID: command.productID)
        }
        // Invariant 7: a command may not take `available` (on hand less reserved) below zero; facts always apply.
        if !command.reason.isFact, delta < 0, after - current.reserved < 0 {
            throw .insufficientStock(
                storeID: command.storeID, productID: command.productID, available: current.available, requested: -delta)
        }
        var next = current
        next.quantity = after
        next.version = current.version + 1
        next.updatedAtMillis = now
        return (delta, next)
    }
}
