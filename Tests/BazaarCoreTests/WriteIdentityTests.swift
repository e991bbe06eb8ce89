@testable import BazaarCore
import BazaarDomain
import Crypto
import Testing

/// What a write is known by: its idempotency fingerprint and its movement ids, both made on every write's path.
@Suite struct WriteIdentityTests {
    /// The fingerprint is built straight into bytes now. A key's stored fingerprint must match its retry across an
    /// upgrade, so the digest must be exactly that of the `String` text it replaced (kept here as the reference).
    @Test func theFingerprintIsTheDigestOfTheTextItAlwaysHashed() throws {
        let references: [String?] = [nil, "", "-", "r", "a|b", "PO \"9\"", "héllo \u{1F600}", "x;12:y", String(repeating: "z", count: 128)]
        let numbers: [Int64?] = [nil, 0, 1, -1, 9, 10, 1_700_000_000_123, Int64.max, Int64.min + 1, Int64.min]
        let changes: [StockChange] = [.delta(-1), .delta(0), .delta(Int64.max), .delta(-1_000_000), .quantity(0), .quantity(42), .quantity(Int64.max)]
        var generator = SystemRandomNumberGenerator()
        var compared = 0
        for _ in 0..<3_000 {
            let commands = (0..<Int.random(in: 1...4, using: &generator)).compactMap { _ in
                try? MovementCommand(storeID: ["S1", "s:2", "A.b-c_9"].randomElement(using: &generator)!,
                                     productID: ["P1", "p", String(repeating: "Q", count: 64)].randomElement(using: &generator)!,
                                     change: changes.randomElement(using: &generator)!, reason: MovementReason.allCases.randomElement(using: &generator)!,
                                     reference: references.randomElement(using: &generator)!, expectedVersion: numbers.randomElement(using: &generator)!,
                                     occurredAtMillis: numbers.randomElement(using: &generator)!)
            }
            guard !commands.isEmpty else { continue }
            #expect(StockService.fingerprint(commands) == Self.referenceFingerprint(commands))
            compared += 1
        }
        #expect(compared > 500, "the commands were valid often enough to compare: \(compared)")
    }

    /// Every movement id is a distinct UUIDv7 of its time, across many tasks at once.
    @Test func movementIDsAreDistinctVersion7IDsAcrossTasks() async {
        let perTask = 2_000
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (0..<perTask).map { _ in MovementID.next(nowMillis: 1_700_000_000_123) } } }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(ids.count == 8 * perTask)
        #expect(Set(ids).count == ids.count, "no id twice")
        let hex = String(1_700_000_000_123, radix: 16), time = String(repeating: "0", count: 12 - hex.count) + hex
        let prefix = String(time.prefix(8)) + "-" + String(time.suffix(4)) + "-7"
        #expect(ids.allSatisfy { $0.utf8.count == 36 && $0.hasPrefix(prefix) }, "version 7, the time in front: \(prefix)")
        let variants = Set(ids.map { $0[$0.index($0.startIndex, offsetBy: 19)] })
        #expect(variants.isSubset(of: ["8", "9", "a", "b"]), "RFC 9562 variant")
        // The random bits are not all alike: each of the 16 hex digits appears in the last group.
        #expect(Set(ids.flatMap { $0.suffix(12) }).count == 16)
    }

    /// The pooled generator hands out the kernel's words across refills (512 words a refill) and tasks: none twice
    /// in 40 refills' worth, and every bit position set in about half of them.
    @Test func pooledRandomWordsAreDistinctAndBalancedAcrossRefills() async {
        let words = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<4 { group.addTask { var random = PooledSystemRandom(); return (0..<5_120).map { _ in random.next() } } }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(words).count == words.count, "no word twice (a refill that failed would repeat zeros)")
        for bit in 0..<64 {
            let set = words.count { $0 & (1 << UInt64(bit)) != 0 }
            #expect((9_000...11_480).contains(set), "bit \(bit) set in \(set) of \(words.count) words")
        }
    }

    /// How the fingerprint was made before it was written into bytes.
    static func referenceFingerprint(_ commands: [MovementCommand]) -> String {
        var text = "v2;\(commands.count);"
        for command in commands {
            let change: String
            switch command.change {
            case .delta(let d): change = "d\(d)"
            case .quantity(let q): change = "q\(q)"
            }
            for field in [command.storeID, command.productID, change, command.reason.rawValue, command.reference.map { "r" + $0 } ?? "-",
                          command.expectedVersion.map(String.init) ?? "-", command.occurredAtMillis.map(String.init) ?? "-"] {
                text += "\(field.utf8.count):\(field);"
            }
        }
        return Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }
}
