import BazaarCore
import BazaarDomain
import BazaarRedis
import Testing

/// The Redis value holds the inventory states, the revision first for the offer script's comparison (issue 17).
@Suite struct RedisLevelEncodingTests {
    @Test func levelsRoundTripWithTheirStatesAndOlderValuesStillRead() {
        let level = StockLevel(quantity: -4, version: 7, updatedAtMillis: 123, reserved: 3, incoming: 12, stateChanges: 5)
        #expect(RedisStockCache.decode(RedisStockCache.encode(level)) == level)
        #expect(RedisStockCache.encode(level).hasPrefix("12:"), "the revision first")
        // Written before the states existed: `version:quantity:updated` reads as revision = version, no states.
        #expect(RedisStockCache.decode("7:-4:123") == StockLevel(quantity: -4, version: 7, updatedAtMillis: 123))
        #expect(RedisStockCache.decode("3:7:1:1:0:0") == nil, "a revision below its version is not a value")
    }

    /// Values and coherence messages are text any client of the Redis server can write: what this service could
    /// not have written reads as nothing. Each of these trapped a node before (index arithmetic on a huge key
    /// length; `revision - version`, `available` or the time's rendering overflowing).
    @Test func hostileValuesKeysAndMessagesReadAsNothing() {
        let values = ["9223372036854775807:-1:0:0:0:0", "-1:-1:0:0:0:0", "5:2:1:1:-9223372036854775808:0", "1:1:0:9223372036854775807:0:0",
                      "1:1:-9223372036854775808:0:9223372036854775807:0", "1:1:0:0:0:-1", "-5:0:0", "1:0:-1", ":::::", "", "1:1:1:1:1",
                      "1:1:1:1:1:1:1", "x:1:1:1:1:1"]
        for text in values { #expect(RedisStockCache.decode(text) == nil, "\(text)") }
        for key in ["9223372036854775807:S1:P1", "99:S1:P1", "4:S1:P", "3:S1", "0::P1", "-1:S1:P1", "2:S1:", "2:S1", ":S1:P1", "S1:P1"] {
            #expect(RedisStockCache.decodeKey(key) == nil, "\(key)")
        }
        #expect(RedisStockCache.parseMessage("9223372036854775807:S1:P1|1:1:1:1:0:0") == nil)
        #expect(RedisStockCache.decodeKey("2:S1:P1") == StockKey(storeID: "S1", productID: "P1"))
        #expect(RedisStockCache.decode("1:1:5:0:0:0") == StockLevel(quantity: 5, version: 1, updatedAtMillis: 0))
    }

    /// The coherence message is read from its bytes (`forEachLevel`): the same levels and keys as the rules it had
    /// when it was read through `String`s (`split`, `Int64(_:)`, `lastIndex(of:)`, kept here as the reference), for
    /// texts of every shape a hostile writer could publish: signs, empty fields, huge numbers, `|` and `:` anywhere,
    /// multi-byte characters, marks that join a `|` or `:` to their neighbour (found by character, not by byte).
    /// Keys name valid identifiers only (ASCII), in both readers: on those, characters and bytes agree.
    @Test func coherenceMessagesReadFromTheirBytesAsTheyWereReadBefore() throws {
        var generator = SystemRandomNumberGenerator()
        var compared = 0, withLevels = 0
        for _ in 0..<20_000 {
            let lines = (0..<Int.random(in: 1...3, using: &generator)).map { _ in Self.hostileLine(using: &generator) }
            let text = lines.joined(separator: Bool.random(using: &generator) ? "\n" : "\n\n")
            let read = Self.levels(of: text)
            #expect(read == Self.referenceLevels(of: text), "\(text.debugDescription)")
            compared += 1
            if !read.isEmpty { withLevels += 1 }
        }
        #expect(withLevels > 1_000, "the texts reach the numbers' rules: \(withLevels) of \(compared) held a level")
        // Real messages, and valid lines among invalid ones.
        let key = StockKey(storeID: "X:a", productID: "b:c")
        let level = StockLevel(quantity: -4, version: 7, updatedAtMillis: 123, reserved: 3, incoming: 12, stateChanges: 5)
        let message = [RedisStockCache.message(key, RedisStockCache.encode(level)), "", "junk|1:1", "2:S1:P1|1:2:3",
                       "2:S1:P1|1:1::1:0:0:0", "3:S1:P1|1:1:1:0:0:0"].joined(separator: "\n")
        #expect(Self.levels(of: message) == Self.referenceLevels(of: message))
        #expect(Self.levels(of: message).count == 3)
        // A mark joined to `|` or `:`, and identifiers outside the alphabet: no pair.
        for line in ["2:S1:P1\u{600}|1:1:1:0:0:0", "2:\u{301}:P1|1:1:1:0:0:0", "2:S1:P 1|1:1:1:0:0:0", "2:S1:P\u{1F600}|1:1:1:0:0:0"] {
            #expect(Self.levels(of: line).isEmpty, "\(line.debugDescription)")
        }
        #expect(Self.levels(of: message).first == Read(key: key, level: level))
    }

    /// A line of a coherence message, or something near one: a key whose length is right or not, identifiers with
    /// `:`, `|` and multi-byte characters, level fields with signs, empty fields, huge numbers, too few or too many.
    static func hostileLine(using generator: inout SystemRandomNumberGenerator) -> String {
        let legal = ["S", "P", "1", ":", "-", "_", "."], hostile = ["|", "é", "😀", "+", "\r", "\u{301}", "\u{600}", " "]
        func identifier() -> String {
            (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                (Int.random(in: 0..<6, using: &generator) == 0 ? hostile : legal).randomElement(using: &generator)!
            }.joined()
        }
        let store = identifier(), product = identifier()
        let length = [String(store.utf8.count), String(store.utf8.count + 1), String(store.utf8.count - 1), "+\(store.utf8.count)",
                      "9223372036854775807", ""].randomElement(using: &generator)!
        let numbers = ["0", "1", "7", "12", "+3", "-4", "-0", "9007199254740992", "9007199254740993", "9223372036854775807",
                       "9223372036854775808", "-9223372036854775808", "", "x", "1é", "+", "-"]
        let fields = (0..<[3, 3, 6, 6, 6, 2, 5, 7].randomElement(using: &generator)!).map { index in
            Int.random(in: 0..<8, using: &generator) == 0 ? numbers.randomElement(using: &generator)! : String(Int.random(in: 0...20, using: &generator) + (index == 0 ? 20 : 0))
        }
        return "\(length):\(store):\(product)|" + fields.joined(separator: ":")
    }

    struct Read: Equatable {
        var key: StockKey
        var level: StockLevel
    }

    static func levels(of message: String) -> [Read] {
        var found: [Read] = []
        RedisStockCache.forEachLevel(inMessage: message) { found.append(Read(key: $0, level: $1)) }
        return found
    }

    /// How messages were read before: `Substring`s and `Int64(_:)`.
    static func referenceLevels(of message: String) -> [Read] {
        message.utf8.split(separator: UInt8(ascii: "\n")).compactMap { line -> Read? in
            let text = String(Substring(line))
            guard let bar = text.lastIndex(of: "|"), let key = referenceKey(text[..<bar]) else { return nil }
            let parts = text[text.index(after: bar)...].split(separator: ":")
            let level: StockLevel
            if parts.count == 3 {
                guard let version = Int64(parts[0]), let quantity = Int64(parts[1]), let updated = Int64(parts[2]) else { return nil }
                level = StockLevel(quantity: quantity, version: version, updatedAtMillis: updated)
            } else {
                guard parts.count == 6, let revision = Int64(parts[0]), let version = Int64(parts[1]), let quantity = Int64(parts[2]),
                      let updated = Int64(parts[3]), let reserved = Int64(parts[4]), let incoming = Int64(parts[5]), version >= 0, revision >= version
                else { return nil }
                level = StockLevel(quantity: quantity, version: version, updatedAtMillis: updated, reserved: reserved, incoming: incoming,
                                   stateChanges: revision - version)
            }
            let bound: Int64 = 1 << 53
            guard (0...bound).contains(level.version), (0...bound).contains(level.stateChanges), (-bound...bound).contains(level.quantity),
                  (0...bound).contains(level.reserved), (0...bound).contains(level.incoming), (0...253_402_300_799_999).contains(level.updatedAtMillis)
            else { return nil }
            return Read(key: key, level: level)
        }
    }

    static func referenceKey(_ text: Substring) -> StockKey? {
        let utf8 = text.utf8
        guard let colon = text.firstIndex(of: ":"), let length = Int(text[..<colon]), length > 0, length < utf8.count else { return nil }
        let storeStart = utf8.index(after: colon)
        guard let storeEnd = utf8.index(storeStart, offsetBy: length, limitedBy: utf8.endIndex), storeEnd < utf8.endIndex,
              utf8[storeEnd] == UInt8(ascii: ":") else { return nil }
        let storeID = String(text[storeStart..<storeEnd]), productID = String(text[utf8.index(after: storeEnd)...])
        guard storeID.utf8.count == length, !productID.isEmpty, Identifier.isValid(storeID), Identifier.isValid(productID) else { return nil }
        return StockKey(storeID: storeID, productID: productID)
    }
}
