import BazaarDomain
import Crypto

extension StockService {
    /// A digest of what the commands mean, so the same key with a different request is told apart from a retry.
    ///
    /// Every field goes in with its length in front (`<bytes>:<text>`), so no field's content can imitate a
    /// separator: with plain joins, a reference holding `|` or a newline could make two different requests
    /// hash alike, and a retry of one would replay the other's answer. "v2" marks the encoding: a retry that
    /// straddles an upgrade is at worst refused as a different request, never mistaken for another. The text is
    /// written straight into bytes (issue 15: built of `String`s it was 5% of Bazaar's CPU in a Kafka ingestion), the
    /// same bytes as ever: a key's stored fingerprint must match its retry after an upgrade.
    static func fingerprint(_ commands: [MovementCommand]) -> String {
        var text = FingerprintText(capacity: 16 + commands.count * 96)
        text.raw("v2;")
        text.digits(Int64(commands.count))
        text.raw(";")
        for command in commands {
            text.field(command.storeID)
            text.field(command.productID)
            switch command.change {
            case .delta(let d): text.field(number: d, prefix: "d")
            case .quantity(let q): text.field(number: q, prefix: "q")
            }
            text.field(command.reason.rawValue)
            if let reference = command.reference { text.field(reference, prefix: "r") } else { text.field("-") }
            if let expected = command.expectedVersion { text.field(number: expected) } else { text.field("-") }
            if let occurred = command.occurredAtMillis { text.field(number: occurred) } else { text.field("-") }
        }
        return SHA256.hash(data: text.bytes).withUnsafeBytes { Hex.encode($0) }
    }
}

/// The text a fingerprint hashes, as bytes: each field as `<its byte count>:<the field>;`.
struct FingerprintText {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func field(_ text: String, prefix: StaticString = "") {
        digits(Int64(prefix.utf8CodeUnitCount + text.utf8.count))
        bytes.append(UInt8(ascii: ":"))
        raw(prefix)
        bytes.append(contentsOf: text.utf8)
        bytes.append(UInt8(ascii: ";"))
    }

    /// A number's field, as `String(number)` writes it after `prefix`.
    mutating func field(number: Int64, prefix: StaticString = "") {
        digits(Int64(prefix.utf8CodeUnitCount + DecimalText.count(number)))
        bytes.append(UInt8(ascii: ":"))
        raw(prefix)
        DecimalText.append(number, to: &bytes)
        bytes.append(UInt8(ascii: ";"))
    }

    /// A count in decimal.
    mutating func digits(_ count: Int64) {
        DecimalText.append(count, to: &bytes)
    }
}
