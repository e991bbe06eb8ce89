/// Movement ids are UUIDv7: time-ordered, so ledger indexes on them stay append-mostly.
public enum MovementID {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func next(nowMillis: Int64) -> String {
        var rng = SystemRandomNumberGenerator()
        return make(millis: nowMillis, random: &rng)
    }

    /// A UUIDv7 of `millis` with its random bits from `random`: for a loader that makes millions (the system
    /// generator costs a system call a word) or a monotonic counter (RFC 9562, method 1).
    public static func make(millis: Int64, random: inout some RandomNumberGenerator) -> String {
        let ms = UInt64(max(0, millis)) & 0xFFFF_FFFF_FFFF
        let high = (ms << 16) | 0x7000 | ((random.next() as UInt64) & 0x0FFF)
        let low = ((random.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, word) in [high, low].enumerated() {
            for nibble in 0..<16 {
                let position = index * 16 + nibble
                if position == 8 || position == 12 || position == 16 || position == 20 { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int((word >> UInt64(60 - nibble * 4)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
