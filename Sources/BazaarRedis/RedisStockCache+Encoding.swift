public import BazaarCore
public import BazaarDomain

/// How a level and its key are written in Redis and on the coherence channel: plain text, no JSON, one format read
/// by every node and by the Lua script's comparison (the revision first).
extension RedisStockCache {
    /// `<prefix>stock:<length of the store id>:<store id>:<product id>`. Identifiers may contain `:`, so the store
    /// id's length is what makes the key unambiguous (`X:a` + `b` and `X` + `a:b` are different keys).
    public func redisKey(_ key: StockKey) -> String { keyPrefix + "stock:" + Self.encodeKey(key) }

    public static func encodeKey(_ key: StockKey) -> String { "\(key.storeID.utf8.count):\(key.storeID):\(key.productID)" }

    /// Nil for anything else: a message or key is text any client of the Redis server can write.
    public static func decodeKey<S: StringProtocol>(_ text: S) -> StockKey? {
        var text = String(text)
        return text.withUTF8 { decodeKey($0, 0..<$0.count) }
    }

    /// The key in `range` of `bytes` (valid UTF-8: a Swift string's), or nil. Both identifiers must be valid ones
    /// (`Identifier`: ASCII only, as every key this service writes), so reading by byte finds the separators the
    /// `String` rules of before found by character, and a line of some other alphabet names no pair.
    static func decodeKey(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> StockKey? {
        // The length bounded first: a huge one would trap in the index arithmetic below.
        guard let colon = bytes[range].firstIndex(of: UInt8(ascii: ":")), let length = LevelText.int64(bytes, range.lowerBound..<colon),
              length > 0, length < range.count
        else { return nil }
        let storeStart = colon + 1, storeEnd = storeStart + Int(length)
        guard storeEnd < range.upperBound, bytes[storeEnd] == UInt8(ascii: ":"), storeEnd + 1 < range.upperBound else { return nil }
        let storeID = String(decoding: UnsafeBufferPointer(rebasing: bytes[storeStart..<storeEnd]), as: UTF8.self)
        let productID = String(decoding: UnsafeBufferPointer(rebasing: bytes[(storeEnd + 1)..<range.upperBound]), as: UTF8.self)
        guard Identifier.isValid(storeID), Identifier.isValid(productID) else { return nil }
        return StockKey(storeID: storeID, productID: productID)
    }

    /// A level's line of a coherence message: the encoded key, `|`, the encoded level (which holds no `|`). A script
    /// publishes every level it stored in one message, their lines joined by `\n` (no identifier holds one), so a
    /// group commit costs each node one message rather than one a movement. A message of one level is exactly what
    /// nodes before this format published and read.
    public static func message(_ key: StockKey, _ encodedLevel: String) -> String { encodeKey(key) + "|" + encodedLevel }

    /// One line's key and encoded level (what `forEachLevel` reads of each line; for tests and tools).
    public static func parseMessage(_ message: String) -> (StockKey, String)? {
        var message = message
        return message.withUTF8 { bytes in
            guard let (key, level) = parseLine(bytes, 0..<bytes.count) else { return nil }
            return (key, String(decoding: UnsafeBufferPointer(rebasing: bytes[level]), as: UTF8.self))
        }
    }

    /// A line's key, and where its encoded level is: after the line's last `|`.
    static func parseLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> (StockKey, Range<Int>)? {
        guard let bar = bytes[line].lastIndex(of: UInt8(ascii: "|")), let key = decodeKey(bytes, line.lowerBound..<bar) else { return nil }
        return (key, (bar + 1)..<line.upperBound)
    }

    /// Each level of a coherence message (`message`'s lines) with its key, read from the message's bytes: every node
    /// reads one message per group commit of every node, so nothing but the identifiers becomes a `String`. Lines
    /// that are not a level of a pair this service could have written are skipped.
    public static func forEachLevel(inMessage message: String, _ body: (StockKey, StockLevel) -> Void) {
        var message = message
        message.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                if let (key, encoded) = parseLine(bytes, start..<end), let level = decode(bytes, encoded) { body(key, level) }
                start = end + 1
            }
        }
    }

    /// `revision:version:quantity:updatedAtMillis:reserved:incoming`: the revision first, for the script's comparison.
    /// (Values written before the inventory states, `version:quantity:updatedAtMillis`, read as revision = version.)
    public static func encode(_ level: StockLevel) -> String {
        "\(level.revision):\(level.version):\(level.quantity):\(level.updatedAtMillis):\(level.reserved):\(level.incoming)"
    }

    /// Nil for text that is not a level this service could have written: a value or message is text any client of
    /// the Redis server can write, and a level out of these bounds would trap where it is answered (`available`,
    /// `revision`, the time's rendering).
    public static func decode(_ text: String) -> StockLevel? {
        var text = text
        return text.withUTF8 { decode($0, 0..<$0.count) }
    }

    /// The level in `range` of `bytes`, or nil. Its fields are read as `split(separator: ":")` and `Int64(_:)` read
    /// them (empty fields skipped; a sign, then decimal digits), which is how these values were always read.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> StockLevel? {
        var fields = InlineArray<6, Int64>(repeating: 0)
        var count = 0, start = range.lowerBound
        while start < range.upperBound {
            let end = bytes[start..<range.upperBound].firstIndex(of: UInt8(ascii: ":")) ?? range.upperBound
            if end > start {
                guard count < 6, let value = LevelText.int64(bytes, start..<end) else { return nil }
                fields[count] = value
                count += 1
            }
            start = end + 1
        }
        let level: StockLevel
        switch count {
        case 3:
            level = StockLevel(quantity: fields[1], version: fields[0], updatedAtMillis: fields[2])
        case 6:
            let (revision, version, quantity, updated, reserved, incoming) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5])
            guard version >= 0, revision >= version else { return nil }
            level = StockLevel(quantity: quantity, version: version, updatedAtMillis: updated, reserved: reserved, incoming: incoming,
                               stateChanges: revision - version)
        default:
            return nil
        }
        return isPlausible(level) ? level : nil
    }

    /// Every count within 2^53 (what JSON numbers carry exactly; the ledger's bounds are far below), none negative but
    /// the quantity, and a time with a four-digit year.
    static func isPlausible(_ level: StockLevel) -> Bool {
        let bound: Int64 = 1 << 53
        return (0...bound).contains(level.version) && (0...bound).contains(level.stateChanges)
            && (-bound...bound).contains(level.quantity) && (0...bound).contains(level.reserved) && (0...bound).contains(level.incoming)
            && (0...253_402_300_799_999).contains(level.updatedAtMillis)
    }
}

/// Numbers in the text of levels and keys.
enum LevelText {
    /// The integer in `range` of `bytes` as `Int64(_: String)` reads it (an optional `+` or `-`, then one decimal
    /// digit or more, within range), or nil.
    static func int64(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        guard index < range.upperBound else { return nil }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative || bytes[index] == UInt8(ascii: "+") { index += 1 }
        guard index < range.upperBound else { return nil }
        var value: Int64 = 0
        while index < range.upperBound {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            // Negative numbers are built downwards, so `Int64.min` reads too.
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, carry) = negative ? shifted.subtractingReportingOverflow(Int64(digit)) : shifted.addingReportingOverflow(Int64(digit))
            guard !overflow, !carry else { return nil }
            value = next
            index += 1
        }
        return value
    }
}
