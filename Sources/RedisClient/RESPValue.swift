public import NIOCore

/// A RESP2 or RESP3 value.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString(ByteBuffer)
    case array([RESPValue])
    /// RESP2 null bulk string / null array, RESP3 `_`.
    case null
    case double(Double)
    case boolean(Bool)
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    /// RESP3 out-of-band data (pub/sub messages, invalidations).
    case push([RESPValue])

    public static func == (a: RESPValue, b: RESPValue) -> Bool {
        switch (a, b) {
        case (.simpleString(let x), .simpleString(let y)), (.error(let x), .error(let y)): x == y
        case (.integer(let x), .integer(let y)): x == y
        case (.bulkString(let x), .bulkString(let y)): x == y
        case (.array(let x), .array(let y)), (.set(let x), .set(let y)), (.push(let x), .push(let y)): x == y
        case (.null, .null): true
        case (.double(let x), .double(let y)): x == y
        case (.boolean(let x), .boolean(let y)): x == y
        case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value as text (simple and bulk strings, integers, doubles), nil for null.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let buffer): String(buffer: buffer)
        case .integer(let number): String(number)
        case .double(let number): String(number)
        default: nil
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let number): number
        case .bulkString, .simpleString: string.flatMap { Int64($0) }
        case .boolean(let flag): flag ? 1 : 0
        default: nil
        }
    }

    public var array: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): values
        default: nil
        }
    }

    public var isNull: Bool { if case .null = self { true } else { false } }
}
