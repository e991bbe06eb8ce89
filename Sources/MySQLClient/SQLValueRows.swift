import CMariaDB

/// The rows of a multi-row `VALUES` list, `(a,b),(c,d)`, built straight into one buffer, each value written as
/// `MySQLConnection.literal` writes it. A group commit of thousands of rows built a string for every value, one
/// for every row and one for the list; here a row costs its values' bytes.
///
///     var rows = SQLValueRows(connection: connection)
///     for item in items { try rows.append(.text(item.id), .int(item.count)) }
///     try connection.run("INSERT INTO t (id, count) VALUES \(rows.text)")
public struct SQLValueRows {
    private let connection: MySQLConnection
    private var bytes: [UInt8] = []
    /// How many rows were appended.
    public private(set) var count = 0

    public init(connection: MySQLConnection, reservingBytes: Int = 0) {
        self.connection = connection
        bytes.reserveCapacity(reservingBytes)
    }

    public var isEmpty: Bool { count == 0 }

    /// The list as SQL text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends one row.
    public mutating func append(_ values: MySQLValue...) throws(MySQLError) { try append(values) }

    /// Appends one row.
    public mutating func append(_ values: [MySQLValue]) throws(MySQLError) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "("))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            try write(value)
        }
        bytes.append(UInt8(ascii: ")"))
        count += 1
    }

    private mutating func write(_ value: MySQLValue) throws(MySQLError) {
        switch value {
        case .null: bytes.append(contentsOf: "NULL".utf8)
        case .int(let number): bytes.append(contentsOf: String(number).utf8)
        case .double: bytes.append(contentsOf: try connection.literal(value).utf8)
        case .text(var text):
            let needsEscaping = text.withUTF8 { $0.contains(where: Self.escaped) }
            guard needsEscaping else {
                // Nothing `mysql_real_escape_string` would change: the text as it is, between quotes.
                bytes.append(UInt8(ascii: "'"))
                bytes.append(contentsOf: text.utf8)
                bytes.append(UInt8(ascii: "'"))
                return
            }
            bytes.append(contentsOf: try connection.literal(value).utf8)
        }
    }

    /// The bytes `mysql_real_escape_string` escapes: NUL, line feed, carriage return, backslash, both quotes and
    /// Ctrl-Z. In UTF-8 (the only character set these connections use) no other character holds these bytes.
    private static func escaped(_ byte: UInt8) -> Bool {
        switch byte {
        case 0, 0x0A, 0x0D, 0x5C, 0x27, 0x22, 0x1A: true
        default: false
        }
    }
}
