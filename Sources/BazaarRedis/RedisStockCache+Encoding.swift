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
        let utf8 = text.utf8
        // The length bounded first: a huge one would trap in the index arithmetic below.
        guard let colon = text.firstIndex(of: ":"), let length = Int(text[..<colon]), length > 0, length < utf8.count else { return nil }
        let storeStart = utf8.index(after: colon)
        guard let storeEnd = utf8.index(storeStart, offsetBy: length, limitedBy: utf8.endIndex), storeEnd < utf8.endIndex,
              utf8[storeEnd] == UInt8(ascii: ":") else { return nil }
        let storeID = String(text[storeStart..<storeEnd]), productID = String(text[utf8.index(after: storeEnd)...])
        guard storeID.utf8.count == length, !productID.isEmpty else { return nil }
        return StockKey(storeID: storeID, productID: productID)
    }

    /// A level's line of a coherence message: the encoded key, `|`, the encoded level (which holds no `|`). A script
    /// publishes every level it stored in one message, their lines joined by `\n` (no identifier holds one), so a
    /// group commit costs each node one message rather than one a movement. A message of one level is exactly what
    /// nodes before this format published and read.
    public static func message(_ key: StockKey, _ encodedLevel: String) -> String { encodeKey(key) + "|" + encodedLevel }

    public static func parseMessage(_ message: String) -> (StockKey, String)? {
        guard let bar = message.lastIndex(of: "|"), let key = decodeKey(message[..<bar]) else { return nil }
        return (key, String(message[message.index(after: bar)...]))
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
        let parts = text.split(separator: ":")
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
