/// The rows of one bulk execution of a prepared statement (`MySQLConnection.executeBulk`): MariaDB's array binding,
/// where the server runs the statement once for every row of the arrays and parses nothing. A multi-row text
/// `INSERT` of thousands of rows spends a fifth of the primary's CPU in the parser (issue 15, BENCHMARKS.md).
///
/// Each column has one type, given up front, as the library binds a column as one array: integers as 64-bit words,
/// text as UTF-8 bytes with their lengths; `.null` is allowed in any column.
///
///     var rows = MySQLBulkRows(columns: [.text, .int])
///     for item in items { try rows.append(.text(item.id), .int(item.count)) }
///     try connection.executeBulk("INSERT INTO t (id, count) VALUES (?, ?)", rows)
public struct MySQLBulkRows: Sendable {
    public enum ColumnType: Sendable, Equatable { case int, text }

    public let columnTypes: [ColumnType]
    /// How many rows were appended.
    public private(set) var count = 0
    /// The bytes the rows take on the wire, near enough to keep a round trip under a server's packet bound.
    public private(set) var byteCount = 0
    /// Column-major: `integers[column][row]` (empty for a text column).
    private(set) var integers: [[Int64]]
    /// Every text value's bytes, one after the other; `texts[column][row]` is where a value lies in them.
    private(set) var textBytes: [UInt8] = []
    private(set) var texts: [[(offset: Int, length: Int)]]
    /// `nulls[column][row]`: the value is NULL. Empty for a column that has none yet.
    private(set) var nulls: [[Bool]]

    public init(columns: [ColumnType], reservingRows rows: Int = 0) {
        columnTypes = columns
        integers = columns.map { type in
            var column: [Int64] = []
            if type == .int { column.reserveCapacity(rows) }
            return column
        }
        texts = columns.map { type in
            var column: [(offset: Int, length: Int)] = []
            if type == .text { column.reserveCapacity(rows) }
            return column
        }
        nulls = columns.map { _ in [] }
    }

    public var isEmpty: Bool { count == 0 }

    /// Appends one row: a value for every column, of the column's type or `.null`.
    public mutating func append(_ values: MySQLValue...) throws(MySQLError) { try append(values) }

    /// Appends one row: a value for every column, of the column's type or `.null`.
    public mutating func append(_ values: [MySQLValue]) throws(MySQLError) {
        guard values.count == columnTypes.count else {
            throw MySQLError(code: MySQLError.wrongParameterCount, message: "a row of \(columnTypes.count) values, got \(values.count)")
        }
        // Every value checked before anything is written: a refused row leaves the rows as they were.
        for (column, value) in values.enumerated() {
            switch (columnTypes[column], value) {
            case (.int, .int), (.text, .text), (_, .null): continue
            default:
                throw MySQLError(code: MySQLError.typeMismatch, message: "column \(column + 1) holds \(columnTypes[column]) values, not \(value)")
            }
        }
        for (column, value) in values.enumerated() {
            switch (columnTypes[column], value) {
            case (.int, .int(let number)):
                integers[column].append(number)
                byteCount += 9
            case (.text, .text(var text)):
                let offset = textBytes.count
                text.withUTF8 { textBytes.append(contentsOf: $0) }
                texts[column].append((offset, textBytes.count - offset))
                byteCount += textBytes.count - offset + 10
            case (.int, .null):
                markNull(column)
                integers[column].append(0)
                byteCount += 1
            case (.text, .null):
                markNull(column)
                texts[column].append((textBytes.count, 0))
                byteCount += 1
            default:
                preconditionFailure("checked above")
            }
        }
        count += 1
        for column in columnTypes.indices where !nulls[column].isEmpty && nulls[column].count < count {
            nulls[column].append(false)
        }
    }

    private mutating func markNull(_ column: Int) {
        if nulls[column].isEmpty { nulls[column] = Array(repeating: false, count: count) }
        nulls[column].append(true)
    }
}
