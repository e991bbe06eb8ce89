/// Why a stock level changed. Reasons split into facts and commands (DESIGN.md invariant 5).
public enum MovementReason: String, Sendable, CaseIterable, Codable {
    case sale, `return`, receipt, count, adjustment, damage
    case transferIn = "transfer_in"
    case transferOut = "transfer_out"

    /// Facts already happened in the store; they are always recorded, even if the level goes negative.
    /// Commands are refused (409) when they would take the level below zero.
    public var isFact: Bool {
        switch self {
        case .sale, .return, .receipt, .count: true
        case .adjustment, .damage, .transferIn, .transferOut: false
        }
    }

    /// The sign a delta must have for this reason, or nil when either sign is meaningful.
    public var requiredSign: Sign? {
        switch self {
        case .sale, .damage, .transferOut: .negative
        case .return, .receipt, .transferIn: .positive
        case .adjustment, .count: nil
        }
    }

    public enum Sign: Sendable { case positive, negative }

    public static func parse(_ raw: String, field: String) throws(DomainError) -> MovementReason {
        guard let reason = MovementReason(rawValue: raw) else {
            throw .invalid(
                field: field,
                message: "must be one of \(allCases.map(\.rawValue).joined(separator: ", ")) (got \(JSON.quoted(String(raw.prefix(32)))))"
            )
        }
        return reason
    }
}
