/// Identifiers of stores and products: 1-64 characters from `A-Z a-z 0-9 . _ : -` (DESIGN.md).
///
/// The restricted alphabet means identifiers never need escaping in JSON, URLs or Kafka keys.
public enum Identifier {
    public static let maxLength = 64

    public static func isValid(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        for byte in utf8 where !isAllowed(byte) { return false }
        return true
    }

    /// Returns `value` or throws an error that names the field and the rule.
    @discardableResult
    public static func validate(_ value: String, field: String) throws(DomainError) -> String {
        guard isValid(value) else {
            throw .invalid(
                field: field,
                message: "must be 1-\(maxLength) characters from A-Z a-z 0-9 . _ : - (got \(describe(value)))"
            )
        }
        return value
    }

    @inline(__always)
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// A safe, bounded rendering of a rejected value for error messages.
    static func describe(_ value: String) -> String {
        if value.isEmpty { return "an empty string" }
        let prefix = String(value.prefix(20))
        return "\(value.count) characters starting \(JSON.quoted(prefix))"
    }
}
