/// JSON text written straight into bytes, for what is rendered once per movement on the hot paths: the movement
/// event and the data it signs. No `String` is made per field. What it writes is what `JSON.quoted`, an integer's
/// `description` and `RFC3339.format` write, byte for byte: nodes check a movement event's signature against their
/// own rendering of its data, so a rendering that changed by one byte would make every event of a rolling deploy's
/// other release look forged.
public struct JSONBytes: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// Text written as it is (no escaping): the structure, names and values known to need none.
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Bytes written as they are: an already rendered JSON value.
    public mutating func raw(_ other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    /// `prefix` and `value` in one JSON string literal, `value` escaped as `JSON.quoted` escapes it (`prefix`
    /// must need no escaping).
    public mutating func quoted(_ value: String, after prefix: StaticString = "") {
        bytes.append(UInt8(ascii: "\""))
        raw(prefix)
        let utf8 = value.utf8
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: utf8)
        } else {
            // Everything to escape is ASCII, so bytes of other characters are copied as they are.
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case UInt8(ascii: "\n"): raw("\\n")
                case UInt8(ascii: "\r"): raw("\\r")
                case UInt8(ascii: "\t"): raw("\\t")
                case ..<0x20:
                    raw("\\u00")
                    bytes.append(Hex.digits[Int(byte >> 4)])
                    bytes.append(Hex.digits[Int(byte & 0xF)])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A JSON string literal, or `null`.
    public mutating func quotedOrNull(_ value: String?) {
        if let value { quoted(value) } else { raw("null") }
    }

    /// An integer in decimal, as its `description` writes it.
    public mutating func number(_ value: Int64) {
        DecimalText.append(value, to: &bytes)
    }

    /// `millis` as `RFC3339.format` writes it, in quotes.
    public mutating func time(millis: Int64) {
        bytes.append(UInt8(ascii: "\""))
        RFC3339.write(millis: millis, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Lowercase hex digits of `other`, as `Hex.encode` writes them. On a buffer: a MAC or digest iterated as a
    /// `Sequence` from another module goes through its witness table a byte, which cost as much as the whole event.
    public mutating func hex(_ other: UnsafeRawBufferPointer) {
        for byte in other {
            bytes.append(Hex.digits[Int(byte >> 4)])
            bytes.append(Hex.digits[Int(byte & 0xF)])
        }
    }
}

/// Integers in decimal, as their `description` writes them, straight into bytes.
public enum DecimalText {
    /// How many bytes `append` writes for `value` (its sign included).
    public static func count(_ value: Int64) -> Int {
        var magnitude = value.magnitude, count = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }

    public static func append(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude  // `Int64.min`'s too
        var digits = InlineArray<20, UInt8>(repeating: 0)  // `UInt64.max` has 20, written from the last
        var at = digits.count
        repeat {
            at -= 1
            digits[at] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        for index in at..<digits.count { bytes.append(digits[index]) }
    }
}
