/// Movement ids are UUIDv7: time-ordered, so ledger indexes on them stay append-mostly.
public enum MovementID {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func next(nowMillis: Int64) -> String {
        var rng = SystemRandomNumberGenerator()
        let ms = UInt64(max(0, nowMillis)) & 0xFFFF_FFFF_FFFF
        let high = (ms << 16) | 0x7000 | ((rng.next() as UInt64) & 0x0FFF)
        let low = ((rng.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
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
