import NIOCore

/// Parses RESP2 and RESP3 frames from a byte stream. `parse` returns nil (consuming nothing) until a whole
/// value has arrived.
struct RESPParser {
    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    /// Nesting limit, against hostile or corrupt input.
    static let maxDepth = 64
    /// The most elements an aggregate may announce. A hostile or corrupt server could announce 2^63 (the loop
    /// would wait for ever for elements that never come, holding the buffer) or a negative count other than the
    /// null `-1` (a range with its upper bound below its lower one traps: the process would crash).
    static let maxAggregateCount: Int64 = 16 * 1024 * 1024

    static func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var copy = buffer
        guard let value = try parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    /// The longest line (a simple string, an error, a number) accepted: Redis's own are short. Without a bound a
    /// peer that never sends CR would make the connection's buffer grow until memory runs out.
    static let maxLineBytes = 64 * 1024

    private static func line(_ buffer: inout ByteBuffer) throws -> String? {
        guard let view = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\r")),
            buffer.readableBytesView.index(after: view) < buffer.readableBytesView.endIndex
        else {
            guard buffer.readableBytes <= maxLineBytes else { throw ProtocolError(description: "a line longer than \(maxLineBytes) bytes") }
            return nil
        }
        let length = view - buffer.readerIndex
        guard length <= maxLineBytes else { throw ProtocolError(description: "a line longer than \(maxLineBytes) bytes") }
        let text = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return text
    }

    private static func integer(_ buffer: inout ByteBuffer) throws -> Int64? {
        guard let text = try line(&buffer) else { return nil }
        guard let value = Int64(text) else { throw ProtocolError(description: "bad integer \(text.prefix(20))") }
        return value
    }

    /// An aggregate's element count: -1 (null) or 0...`maxAggregateCount`, anything else a protocol error.
    private static func aggregateCount(_ buffer: inout ByteBuffer) throws -> Int64? {
        guard let count = try integer(&buffer) else { return nil }
        guard count >= -1, count <= maxAggregateCount else { throw ProtocolError(description: "aggregate count \(count) out of range") }
        return count
    }

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth < maxDepth else { throw ProtocolError(description: "values nested too deeply") }
        guard let marker = buffer.readInteger(as: UInt8.self) else { return nil }
        switch marker {
        case UInt8(ascii: "+"): return try line(&buffer).map(RESPValue.simpleString)
        case UInt8(ascii: "-"): return try line(&buffer).map(RESPValue.error)
        case UInt8(ascii: ":"): return try integer(&buffer).map(RESPValue.integer)
        case UInt8(ascii: "_"): return try line(&buffer).map { _ in .null }
        case UInt8(ascii: "#"): return try line(&buffer).map { .boolean($0 == "t") }
        case UInt8(ascii: ","):
            guard let text = try line(&buffer) else { return nil }
            switch text {
            case "inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            default:
                guard let value = Double(text) else { throw ProtocolError(description: "bad double \(text.prefix(20))") }
                return .double(value)
            }
        case UInt8(ascii: "("): return try line(&buffer).map(RESPValue.simpleString)  // big number, as text
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            guard let length = try integer(&buffer) else { return nil }
            if length == -1 { return .null }
            guard length >= 0 else { throw ProtocolError(description: "negative length \(length)") }
            guard length <= 512 * 1024 * 1024 else { throw ProtocolError(description: "bulk string too long") }
            guard buffer.readableBytes >= Int(length) + 2, var slice = buffer.readSlice(length: Int(length)) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            if marker == UInt8(ascii: "=") { slice.moveReaderIndex(forwardBy: min(4, slice.readableBytes)) }  // "txt:" prefix
            if marker == UInt8(ascii: "!") { return .error(String(buffer: slice)) }
            return .bulkString(slice)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let count = try aggregateCount(&buffer) else { return nil }
            if count < 0 { return .null }
            var values: [RESPValue] = []
            values.reserveCapacity(Int(min(count, 1024)))
            for _ in 0..<count {
                guard let value = try parseValue(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            switch marker {
            case UInt8(ascii: "~"): return .set(values)
            case UInt8(ascii: ">"): return .push(values)
            default: return .array(values)
            }
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            // Maps have no null form: any negative count is a protocol error.
            guard let count = try aggregateCount(&buffer) else { return nil }
            guard count >= 0 else { throw ProtocolError(description: "negative map count \(count)") }
            var pairs: [(RESPValue, RESPValue)] = []
            for _ in 0..<count {
                guard let key = try parseValue(&buffer, depth: depth + 1), let value = try parseValue(&buffer, depth: depth + 1) else { return nil }
                pairs.append((key, value))
            }
            if marker == UInt8(ascii: "|") {  // attributes precede the value they describe: skip them
                return try parseValue(&buffer, depth: depth + 1)
            }
            return .map(pairs)
        default:
            throw ProtocolError(description: "unknown RESP type byte \(marker)")
        }
    }

    /// A command as a RESP array of bulk strings.
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }
}
