/// A value sent to or read from the server. Integers travel as 64-bit, floating point as double,
/// everything else as text (the client binds strings in UTF-8).
public enum MySQLValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    public var description: String {
        switch self {
        case .null: "NULL"
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .text(let value): "'\(value)'"
        }
    }
}

/// Types that can be bound as statement parameters.
public protocol MySQLBindable: Sendable {
    var mysqlValue: MySQLValue { get }
}

extension MySQLValue: MySQLBindable { public var mysqlValue: MySQLValue { self } }
extension Int64: MySQLBindable { public var mysqlValue: MySQLValue { .int(self) } }
extension Int: MySQLBindable { public var mysqlValue: MySQLValue { .int(Int64(self)) } }
extension Double: MySQLBindable { public var mysqlValue: MySQLValue { .double(self) } }
extension String: MySQLBindable { public var mysqlValue: MySQLValue { .text(self) } }
extension Bool: MySQLBindable { public var mysqlValue: MySQLValue { .int(self ? 1 : 0) } }
extension Optional: MySQLBindable where Wrapped: MySQLBindable {
    public var mysqlValue: MySQLValue { self?.mysqlValue ?? .null }
}

/// One result row. Accessors convert between the binary and the text protocol's representations.
public struct MySQLRow: Sendable, Equatable {
    public var values: [MySQLValue]

    public init(values: [MySQLValue]) { self.values = values }

    public subscript(index: Int) -> MySQLValue { values[index] }

    public func optionalInt(_ index: Int) throws(MySQLError) -> Int64? {
        switch values[index] {
        case .null: return nil
        case .int(let value): return value
        case .double(let value): return Int64(value)
        case .text(let text):
            guard let value = Int64(text) else { throw Self.mismatch(index, "an integer", text) }
            return value
        }
    }

    public func int(_ index: Int) throws(MySQLError) -> Int64 {
        guard let value = try optionalInt(index) else { throw Self.mismatch(index, "an integer", "NULL") }
        return value
    }

    public func optionalDouble(_ index: Int) throws(MySQLError) -> Double? {
        switch values[index] {
        case .null: return nil
        case .int(let value): return Double(value)
        case .double(let value): return value
        case .text(let text):
            guard let value = Double(text) else { throw Self.mismatch(index, "a number", text) }
            return value
        }
    }

    public func double(_ index: Int) throws(MySQLError) -> Double {
        guard let value = try optionalDouble(index) else { throw Self.mismatch(index, "a number", "NULL") }
        return value
    }

    public func optionalString(_ index: Int) -> String? {
        switch values[index] {
        case .null: nil
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .text(let text): text
        }
    }

    public func string(_ index: Int) throws(MySQLError) -> String {
        guard let value = optionalString(index) else { throw Self.mismatch(index, "a string", "NULL") }
        return value
    }

    static func mismatch(_ index: Int, _ expected: String, _ got: String) -> MySQLError {
        MySQLError(code: MySQLError.typeMismatch, message: "column \(index) is not \(expected): \(got.prefix(40))")
    }
}

/// What a statement returned.
public struct MySQLResult: Sendable {
    public var rows: [MySQLRow]
    public var affectedRows: UInt64
    /// `LAST_INSERT_ID()` of the statement: the first AUTO_INCREMENT value it generated.
    public var lastInsertID: UInt64
}
