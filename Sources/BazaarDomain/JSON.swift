/// Minimal JSON text building for the hot paths (stock answers, audit items, events), where
/// Foundation's JSONEncoder would cost more than the rest of the request. Every string that comes from outside
/// (identifiers included, although their alphabet needs no escaping) goes through `quoted` (or `JSONBytes.quoted`,
/// its byte-writing twin for movement events, held to it by `MovementEventRenderingTests`): one escaping rule for
/// everything Bazaar writes, so a value that slipped past validation cannot break out of its string.
public enum JSON {
    /// `value` as a JSON string literal, escaped per RFC 8259.
    public static func quoted(_ value: String) -> String {
        // Nearly every value needs no escaping: then it is copied once, bytes as they are.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            let count = value.utf8.count
            return String(unsafeUninitializedCapacity: count + 2) { buffer in
                buffer[0] = UInt8(ascii: "\"")
                _ = UnsafeMutableBufferPointer(rebasing: buffer[1...]).initialize(fromContentsOf: value.utf8)
                buffer[count + 1] = UInt8(ascii: "\"")
                return count + 2
            }
        }
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    public static func quotedOrNull(_ value: String?) -> String {
        value.map(quoted) ?? "null"
    }

    /// An integer, or `null`.
    public static func number(_ value: Int?) -> String { value.map { "\($0)" } ?? "null" }

    /// A number, or `null` for nil and for what JSON cannot hold (NaN, infinities).
    public static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        return "\(value)"
    }
}

extension Movement {
    /// The audit item of DESIGN.md: the body of `/audit-logs` items and of movement events.
    public var auditJSON: String { String(decoding: auditJSONBytes, as: UTF8.self) }

    /// `auditJSON`'s bytes: what a movement event's signature covers.
    public var auditJSONBytes: [UInt8] {
        var out = JSONBytes(capacity: 320 + actor.utf8.count)
        out.raw("{\"movement_id\":"); out.quoted(movementID)
        out.raw(",\"store_id\":"); out.quoted(storeID)
        out.raw(",\"product_id\":"); out.quoted(productID)
        out.raw(",\"delta\":"); out.number(delta)
        out.raw(",\"quantity_before\":"); out.number(quantityBefore)
        out.raw(",\"quantity_after\":"); out.number(quantityAfter)
        out.raw(",\"version\":"); out.number(version)
        out.raw(",\"reason\":"); out.quoted(reason.rawValue)
        out.raw(",\"reference\":"); out.quotedOrNull(reference)
        out.raw(",\"actor\":"); out.quoted(actor)
        out.raw(",\"at\":"); out.time(millis: atMillis)
        out.raw(",\"recorded_at\":"); out.time(millis: recordedAtMillis)
        out.raw("}")
        return out.bytes
    }

    /// The answer to a write: the level after this movement.
    public var writeAnswerJSON: String {
        """
        {"store_id":\(JSON.quoted(storeID)),"product_id":\(JSON.quoted(productID)),"quantity":\(quantityAfter),"version":\(version),\
        "movement_id":\(JSON.quoted(movementID)),"updated_at":"\(RFC3339.format(millis: recordedAtMillis))"}
        """
    }

    /// CloudEvents 1.0 structured JSON for `bazaar.stock-movements` (key: the store id).
    public var cloudEventJSON: String { String(decoding: cloudEventJSONBytes(data: auditJSONBytes), as: UTF8.self) }

    /// The CloudEvent around `data`, this movement's `auditJSONBytes` already rendered (the publisher signs it too),
    /// after `extensions`: attributes rendered already, each ending in a comma.
    public func cloudEventJSONBytes(data: [UInt8], extensions: (inout JSONBytes) -> Void = { _ in }) -> [UInt8] {
        var out = JSONBytes(capacity: data.count + 320)
        out.raw("{")
        extensions(&out)
        out.raw("\"specversion\":\"1.0\",\"type\":\"bazaar.stock.movement\",\"source\":"); out.quoted(storeID, after: "/stores/")
        out.raw(",\"id\":"); out.quoted(movementID)
        out.raw(",\"time\":"); out.time(millis: atMillis)
        out.raw(",\"subject\":"); out.quoted(productID, after: "/products/")
        out.raw(",\"datacontenttype\":\"application/json\",\"data\":"); out.raw(data)
        out.raw("}")
        return out.bytes
    }
}

public enum MovementEvent {
    public static let type = "bazaar.stock.movement"
    public static let topic = "bazaar.stock-movements"
}

extension StockLevel {
    /// The answer of `GET /get-stock`.
    public func readAnswerJSON(storeID: String, productID: String) -> String {
        let updated = version == 0 ? "null" : "\"\(RFC3339.format(millis: updatedAtMillis))\""
        return """
            {"store_id":\(JSON.quoted(storeID)),"product_id":\(JSON.quoted(productID)),"quantity":\(quantity),"version":\(version),"updated_at":\(updated),\
            "reserved":\(reserved),"available":\(available),"incoming":\(incoming)}
            """
    }
}
