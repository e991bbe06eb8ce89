#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Movement ids are UUIDv7: time-ordered, so ledger indexes on them stay append-mostly.
public enum MovementID {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func next(nowMillis: Int64) -> String {
        var random = PooledSystemRandom()
        return make(millis: nowMillis, random: &random)
    }

    /// A UUIDv7 of `millis` with its random bits from `random`: for a loader that makes millions (the system
    /// generator costs a system call a word) or a monotonic counter (RFC 9562, method 1).
    public static func make(millis: Int64, random: inout some RandomNumberGenerator) -> String {
        let ms = UInt64(max(0, millis)) & 0xFFFF_FFFF_FFFF
        let high = (ms << 16) | 0x7000 | ((random.next() as UInt64) & 0x0FFF)
        let low = ((random.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { out in
            var position = 0
            for index in 0..<2 {
                let word = index == 0 ? high : low
                for nibble in 0..<16 {
                    let digit = index * 16 + nibble
                    if digit == 8 || digit == 12 || digit == 16 || digit == 20 {
                        out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    out[position] = digits[Int((word >> UInt64(60 - nibble * 4)) & 0xF)]
                    position += 1
                }
            }
            return position
        }
    }
}

/// The system's cryptographic random bytes, drawn 4 KiB at a time and handed out a word at a time.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` system call for each word: two for every movement id, which
/// was 2% of a Kafka batch's CPU in the node. `arc4random_buf` (glibc 2.36) fills the pool from `getrandom` in one
/// call, and never fails: the words are the kernel's, as before, fetched in bulk. A process that forked would hand out
/// the same words in both copies: Bazaar never forks.
struct PooledSystemRandom: RandomNumberGenerator {
    private static let pool = Mutex(Pool())

    mutating func next() -> UInt64 { Self.pool.withLock { $0.next() } }

    private struct Pool: ~Copyable {
        var words = [UInt64](repeating: 0, count: 512)
        var used = 512

        mutating func next() -> UInt64 {
            if used == words.count {
                #if canImport(Glibc)
                words.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
                #else
                var system = SystemRandomNumberGenerator()
                for index in words.indices { words[index] = system.next() }
                #endif
                used = 0
            }
            defer { used += 1 }
            return words[used]
        }
    }
}
