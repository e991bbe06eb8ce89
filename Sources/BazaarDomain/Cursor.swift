/// Opaque page cursors. Clients must treat them as opaque; the prefix lets a server refuse a cursor
/// from another listing instead of silently misreading it.
public enum Cursor {
    /// A cursor over ledger sequence numbers (`/audit-logs`, `/v1/changes`).
    public static func encode(sequence: Int64) -> String { "s\(sequence)" }

    /// `s` and 1-18 decimal digits, exactly as `encode(sequence:)` writes them (the contract's pattern
    /// `^s[0-9]{1,18}$`): `Int64("+5")` alone would also take a sign.
    public static func decodeSequence(_ text: String, field: String = "cursor") throws(DomainError) -> Int64 {
        let digits = text.utf8.dropFirst()
        guard text.first == "s", (1...18).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = Int64(text.dropFirst())
        else {
            throw .invalid(field: field, message: "is not a cursor this listing gave out; pass back `next_cursor` unchanged")
        }
        return value
    }

    /// A cursor over identifiers (catalog and stock listings): the last identifier of the page.
    public static func encode(identifier: String) -> String { "k" + identifier }

    public static func decodeIdentifier(_ text: String, field: String = "cursor") throws(DomainError) -> String {
        guard text.first == "k", Identifier.isValid(String(text.dropFirst())) else {
            throw .invalid(field: field, message: "is not a cursor this listing gave out; pass back `next_cursor` unchanged")
        }
        return String(text.dropFirst())
    }
}

/// Page sizes: `limit` defaults to 100, at most 1000 (DESIGN.md).
public enum Paging {
    public static let defaultLimit = 100
    public static let maxLimit = 1000

    public static func limit(_ text: String?, field: String = "limit") throws(DomainError) -> Int {
        guard let text else { return defaultLimit }
        guard let value = Int(text), (1...maxLimit).contains(value) else {
            throw .invalid(field: field, message: "must be an integer from 1 to \(maxLimit)")
        }
        return value
    }
}
