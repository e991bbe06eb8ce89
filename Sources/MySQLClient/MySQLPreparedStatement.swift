import CMariaDB

/// A server-side prepared statement (binary protocol). Parameter and result buffers are heap memory owned
/// by one execution and freed after it, so the library never sees a pointer that Swift might move.
final class MySQLPreparedStatement {
    private let statement: UnsafeMutablePointer<MYSQL_STMT>
    private let parameterCount: Int

    init(mysql: UnsafeMutablePointer<MYSQL>, sql: String) throws(MySQLError) {
        guard let statement = mysql_stmt_init(mysql) else { throw MySQLConnection.error(of: mysql) }
        let status = sql.withCString { mysql_stmt_prepare(statement, $0, UInt(sql.utf8.count)) }
        guard status == 0 else {
            let error = Self.error(of: statement)
            mysql_stmt_close(statement)
            throw error
        }
        // Report each column's longest value after store_result, so result buffers are sized exactly.
        var update: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &update)
        self.statement = statement
        self.parameterCount = Int(mysql_stmt_param_count(statement))
    }

    func close() { mysql_stmt_close(statement) }

    func execute(_ parameters: [MySQLValue]) throws(MySQLError) -> MySQLResult {
        guard parameters.count == parameterCount else {
            throw MySQLError(code: MySQLError.wrongParameterCount, message: "statement takes \(parameterCount) parameters, got \(parameters.count)")
        }
        let arena = Arena()
        defer { arena.free() }
        if parameterCount > 0 {
            let binds = arena.binds(parameterCount)
            for (index, value) in parameters.enumerated() {
                switch value {
                case .null:
                    binds[index].buffer_type = MYSQL_TYPE_NULL
                case .int(let number):
                    binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                    binds[index].buffer = arena.store(number)
                case .double(let number):
                    binds[index].buffer_type = MYSQL_TYPE_DOUBLE
                    binds[index].buffer = arena.store(number)
                case .text(let text):
                    let (pointer, length) = arena.store(text)
                    binds[index].buffer_type = MYSQL_TYPE_STRING
                    binds[index].buffer = pointer
                    binds[index].buffer_length = UInt(length)
                    binds[index].length_value = UInt(length)
                    binds[index].length = arena.store(UInt(length)).assumingMemoryBound(to: UInt.self)
                }
            }
            guard mysql_stmt_bind_param(statement, binds) == 0 else { throw Self.error(of: statement) }
        }
        guard mysql_stmt_execute(statement) == 0 else { throw Self.error(of: statement) }
        let rows = try fetchRows(arena: arena)
        return MySQLResult(rows: rows, affectedRows: mysql_stmt_affected_rows(statement), lastInsertID: mysql_stmt_insert_id(statement))
    }

    /// Runs the statement once for every row of `rows`, in one round trip (COM_STMT_BULK_EXECUTE): the columns
    /// bound as arrays, text as pointers into one copy of the rows' bytes. A row that fails stops the rest and is
    /// thrown; callers roll the transaction back, as after any failed statement.
    func executeBulk(_ rows: MySQLBulkRows) throws(MySQLError) -> MySQLResult {
        guard rows.columnTypes.count == parameterCount else {
            throw MySQLError(code: MySQLError.wrongParameterCount, message: "statement takes \(parameterCount) parameters, rows have \(rows.columnTypes.count)")
        }
        guard rows.count > 0 else { return MySQLResult(rows: [], affectedRows: 0, lastInsertID: 0) }
        let arena = Arena()
        defer { arena.free() }
        let count = rows.count
        let text = arena.allocate(max(rows.textBytes.count, 1), of: UInt8.self)
        rows.textBytes.withUnsafeBufferPointer { if let base = $0.baseAddress { text.update(from: base, count: $0.count) } }
        let binds = arena.binds(parameterCount)
        for column in 0..<parameterCount {
            switch rows.columnTypes[column] {
            case .int:
                let values = arena.allocate(count, of: Int64.self)
                precondition(rows.integers[column].count == count, "a column of \(rows.integers[column].count) values in \(count) rows")
                rows.integers[column].withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: count) }
                binds[column].buffer_type = MYSQL_TYPE_LONGLONG
                binds[column].buffer = UnsafeMutableRawPointer(values)
            case .text:
                // An array of pointers to the values and one of their lengths (column-wise binding of text).
                let pointers = arena.allocate(count, of: UnsafeMutablePointer<UInt8>.self)
                let lengths = arena.allocate(count, of: UInt.self)
                let cells = rows.texts[column]
                precondition(cells.count == count, "a column of \(cells.count) values in \(count) rows")
                for row in 0..<count {
                    pointers[row] = text + cells[row].offset
                    lengths[row] = UInt(cells[row].length)
                }
                binds[column].buffer_type = MYSQL_TYPE_STRING
                binds[column].buffer = UnsafeMutableRawPointer(pointers)
                binds[column].length = lengths
            }
            let nulls = rows.nulls[column]
            if !nulls.isEmpty {
                precondition(nulls.count == count, "a column of \(nulls.count) NULL flags in \(count) rows")
                let indicators = arena.allocate(count, of: CChar.self)
                for row in 0..<count {
                    indicators[row] = CChar(nulls[row] ? STMT_INDICATOR_NULL.rawValue : STMT_INDICATOR_NONE.rawValue)
                }
                binds[column].u.indicator = indicators
            }
        }
        var arraySize = UInt32(count)
        mysql_stmt_attr_set(statement, STMT_ATTR_ARRAY_SIZE, &arraySize)
        defer {
            // The statement is cached: a later single execution of it must not take this array size.
            var none: UInt32 = 0
            mysql_stmt_attr_set(statement, STMT_ATTR_ARRAY_SIZE, &none)
        }
        guard mysql_stmt_bind_param(statement, binds) == 0 else { throw Self.error(of: statement) }
        guard mysql_stmt_execute(statement) == 0 else { throw Self.error(of: statement) }
        return MySQLResult(rows: [], affectedRows: mysql_stmt_affected_rows(statement), lastInsertID: mysql_stmt_insert_id(statement))
    }

    private func fetchRows(arena: Arena) throws(MySQLError) -> [MySQLRow] {
        let columns = Int(mysql_stmt_field_count(statement))
        guard columns > 0 else { return [] }
        guard mysql_stmt_store_result(statement) == 0 else { throw Self.error(of: statement) }
        defer { mysql_stmt_free_result(statement) }
        guard let metadata = mysql_stmt_result_metadata(statement) else { throw Self.error(of: statement) }
        defer { mysql_free_result(metadata) }
        let buffers = ResultBuffers(fields: mysql_fetch_fields(metadata)!, columns: columns, arena: arena)
        guard mysql_stmt_bind_result(statement, buffers.binds) == 0 else { throw Self.error(of: statement) }
        var rows: [MySQLRow] = []
        rows.reserveCapacity(Int(mysql_stmt_num_rows(statement)))
        while true {
            let status = mysql_stmt_fetch(statement)
            if status == MYSQL_NO_DATA { break }
            guard status == 0 else {
                if status == 1 { throw Self.error(of: statement) }
                throw MySQLError(code: MySQLError.dataTruncated, message: "data truncated while fetching a row")
            }
            rows.append(buffers.row())
        }
        return rows
    }

    static func error(of statement: UnsafeMutablePointer<MYSQL_STMT>) -> MySQLError {
        MySQLError(code: mysql_stmt_errno(statement), sqlState: String(cString: mysql_stmt_sqlstate(statement)),
                   message: String(cString: mysql_stmt_error(statement)))
    }
}

/// Where a result's rows are fetched: a buffer per column, sized from the result's metadata (integers and floats
/// as 8 bytes, anything else as text as long as the column's longest value, which `STMT_ATTR_UPDATE_MAX_LENGTH`
/// makes the server report), each with its NULL flag and length.
private struct ResultBuffers {
    enum Kind { case integer, unsignedInteger, double, text }

    let binds: UnsafeMutablePointer<MYSQL_BIND>
    let nulls: UnsafeMutablePointer<my_bool>
    let lengths: UnsafeMutablePointer<UInt>
    let kinds: [Kind]

    init(fields: UnsafeMutablePointer<MYSQL_FIELD>, columns: Int, arena: Arena) {
        binds = arena.binds(columns)
        nulls = arena.allocate(columns, of: my_bool.self)
        lengths = arena.allocate(columns, of: UInt.self)
        var kinds: [Kind] = []
        for column in 0..<columns {
            let field = fields[column]
            binds[column].is_null = nulls + column
            binds[column].length = lengths + column
            switch field.type {
            case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_INT24, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
                binds[column].buffer_type = MYSQL_TYPE_LONGLONG
                binds[column].buffer = UnsafeMutableRawPointer(arena.allocate(1, of: Int64.self))
                binds[column].buffer_length = 8
                let unsigned = field.flags & UInt32(UNSIGNED_FLAG) != 0
                binds[column].is_unsigned = unsigned ? 1 : 0
                kinds.append(unsigned ? .unsignedInteger : .integer)
            case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
                binds[column].buffer_type = MYSQL_TYPE_DOUBLE
                binds[column].buffer = UnsafeMutableRawPointer(arena.allocate(1, of: Double.self))
                binds[column].buffer_length = 8
                kinds.append(.double)
            default:
                let capacity = max(Int(field.max_length), 1)
                binds[column].buffer_type = MYSQL_TYPE_STRING
                binds[column].buffer = UnsafeMutableRawPointer(arena.allocate(capacity, of: UInt8.self))
                binds[column].buffer_length = UInt(capacity)
                kinds.append(.text)
            }
        }
        self.kinds = kinds
    }

    /// The row `mysql_stmt_fetch` has just written into the buffers.
    func row() -> MySQLRow {
        var values: [MySQLValue] = []
        values.reserveCapacity(kinds.count)
        for (column, kind) in kinds.enumerated() {
            if nulls[column] != 0 {
                values.append(.null)
                continue
            }
            let buffer = binds[column].buffer!
            switch kind {
            case .integer: values.append(.int(buffer.load(as: Int64.self)))
            case .unsignedInteger: values.append(.int(Int64(truncatingIfNeeded: buffer.load(as: UInt64.self))))
            case .double: values.append(.double(buffer.load(as: Double.self)))
            case .text:
                let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(lengths[column]))
                values.append(.text(String(decoding: bytes, as: UTF8.self)))
            }
        }
        return MySQLRow(values: values)
    }
}

/// Heap allocations of one execution, released together.
private final class Arena {
    private var allocations: [UnsafeMutableRawPointer] = []

    func allocate<T>(_ count: Int, of type: T.Type) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.stride * count, alignment: MemoryLayout<T>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.stride * count)
        allocations.append(raw)
        return raw.assumingMemoryBound(to: T.self)
    }

    /// Zeroed MYSQL_BIND structures.
    func binds(_ count: Int) -> UnsafeMutablePointer<MYSQL_BIND> { allocate(count, of: MYSQL_BIND.self) }

    func store<T>(_ value: T) -> UnsafeMutableRawPointer {
        let pointer = allocate(1, of: T.self)
        pointer.initialize(to: value)
        return UnsafeMutableRawPointer(pointer)
    }

    func store(_ text: String) -> (UnsafeMutableRawPointer, Int) {
        var text = text
        return text.withUTF8 { utf8 in
            let pointer = allocate(max(utf8.count, 1), of: UInt8.self)
            if let base = utf8.baseAddress { pointer.update(from: base, count: utf8.count) }
            return (UnsafeMutableRawPointer(pointer), utf8.count)
        }
    }

    func free() {
        for allocation in allocations { allocation.deallocate() }
        allocations.removeAll()
    }
}
