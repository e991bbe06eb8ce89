import CMariaDB

/// The text protocol: SQL sent as text and every value answered as text. For DDL, transaction control, statements
/// run once, status commands, and multi-row statements built with escaped literals (a prepared statement per row
/// count would not pay); everything else goes through `execute` (prepared, binary protocol).
extension MySQLConnection {
    /// Runs SQL over the text protocol (for DDL, transaction control, and statements run once).
    @discardableResult
    public func query(_ sql: String) throws(MySQLError) -> [MySQLRow] {
        try results(of: send(sql)).flatMap { $0 }
    }

    /// The rows of every statement of the round trip just sent, in order, the session's tracked state read after
    /// each (a script's last statement may be its COMMIT, whose GTID is kept). A statement after the first that
    /// failed is thrown: the server ran none of the rest.
    /// `afterEach` sees the connection after each statement's result is read (`mysql_affected_rows` is only that
    /// statement's then: the final `mysql_next_result` sets it to -1).
    private func results(of mysql: UnsafeMutablePointer<MYSQL>,
                         afterEach: (UnsafeMutablePointer<MYSQL>) -> Void = { _ in }) throws(MySQLError) -> [[MySQLRow]] {
        var results: [[MySQLRow]] = []
        while true {
            trackSession()
            results.append(try currentResult(mysql))
            afterEach(mysql)
            let next = mysql_next_result(mysql)
            if next == -1 { return results }  // no more results
            if next > 0 { throw failure(Self.error(of: mysql)) }
        }
    }

    /// Runs statements built as text, in one round trip when `configuration.multiStatements` allows it, else one by
    /// one: each statement's rows, in order (none for a statement that returns none). The first that fails stops the
    /// rest and is thrown. A round trip is one packet, which a server refuses over its `max_allowed_packet`: a script
    /// longer than `scriptParts`' bound goes in as many round trips as it takes, in order.
    public func script(_ statements: [String]) throws(MySQLError) -> [[MySQLRow]] {
        guard configuration.multiStatements, statements.count > 1 else {
            var results: [[MySQLRow]] = []
            for statement in statements { results.append(try query(statement)) }
            return results
        }
        var results: [[MySQLRow]] = []
        results.reserveCapacity(statements.count)
        for part in Self.scriptParts(statements) {
            results += try self.results(of: send(part.joined(separator: ";\n")))
        }
        guard results.count == statements.count else {
            throw MySQLError(code: MySQLError.corruptData, message: "\(results.count) results for \(statements.count) statements")
        }
        return results
    }

    /// Sends statements as one round trip and returns without waiting for their answer, which `readSentScript`
    /// reads: the server runs them while the caller builds what comes next. Until then nothing else may use the
    /// connection. Several statements need `configuration.multiStatements`; the round trip is one packet (see
    /// `scriptParts`).
    public func sendScript(_ statements: [String]) throws(MySQLError) {
        precondition(statements.count == 1 || configuration.multiStatements, "several statements in one round trip need multiStatements")
        let mysql = try requireHandle()
        let sql = statements.joined(separator: ";\n")
        let status = sql.withCString { mysql_send_query(mysql, $0, UInt(sql.utf8.count)) }
        guard status == 0 else { throw failure(Self.error(of: mysql)) }
    }

    /// The rows of every statement of the round trip `sendScript` sent, in order; the first that failed is thrown
    /// (the server ran none of the rest).
    public func readSentScript() throws(MySQLError) -> [[MySQLRow]] {
        let mysql = try requireHandle()
        guard mysql_read_query_result(mysql) == 0 else { throw failure(Self.error(of: mysql)) }
        return try results(of: mysql)
    }

    /// The bound of one round trip's SQL: well under every server's `max_allowed_packet`.
    public static let maxScriptBytes = 1 << 20

    /// `statements` cut, in order, into scripts of at most `maxBytes` of SQL each (a statement longer than that alone).
    /// A server refuses a packet over its `max_allowed_packet` (4 MiB on older servers, 16 MiB on MariaDB 10.11's
    /// default) and drops the connection.
    public static func scriptParts(_ statements: [String], maxBytes: Int = maxScriptBytes) -> [[String]] {
        var parts: [[String]] = [], part: [String] = [], bytes = 0
        for statement in statements {
            let size = statement.utf8.count + 2
            if !part.isEmpty, bytes + size > maxBytes {
                parts.append(part)
                part = []
                bytes = 0
            }
            part.append(statement)
            bytes += size
        }
        if !part.isEmpty { parts.append(part) }
        return parts
    }

    /// Runs statements built as text and reports what they changed (for multi-row INSERT and UPDATE): the rows the
    /// statements without a result set changed, summed, and the last insert id among them.
    @discardableResult
    public func run(_ sql: String) throws(MySQLError) -> MySQLResult {
        var changed: UInt64 = 0
        var insertID: UInt64 = 0
        let rows = try results(of: send(sql)) { mysql in
            guard mysql_field_count(mysql) == 0 else { return }
            changed += mysql_affected_rows(mysql)
            if mysql_insert_id(mysql) != 0 { insertID = mysql_insert_id(mysql) }
        }
        return MySQLResult(rows: rows.flatMap { $0 }, affectedRows: changed, lastInsertID: insertID)
    }

    /// `value` as an SQL literal, strings escaped for the connection's character set (`mysql_real_escape_string`).
    /// For multi-row statements built as text, where a prepared statement per row count would not pay.
    public func literal(_ value: MySQLValue) throws(MySQLError) -> String {
        switch value {
        case .null: return "NULL"
        case .int(let number): return String(number)
        case .double(let number):
            guard number.isFinite else { throw MySQLError(code: MySQLError.typeMismatch, message: "cannot store \(number)") }
            return String(number)
        case .text(var text):
            let mysql = try requireHandle()
            guard !text.isEmpty else { return "''" }
            // Escaped straight into the answer, between its quotes: at most two bytes a byte, and the terminating NUL
            // the library writes lands where the closing quote goes (a statement of a thousand rows escapes
            // thousands of values: copies and temporary arrays here showed in a write load's profile).
            return text.withUTF8 { source in
                String(unsafeUninitializedCapacity: source.count * 2 + 3) { out in
                    out[0] = UInt8(ascii: "'")
                    let length = Int(source.withMemoryRebound(to: CChar.self) { from in
                        mysql_real_escape_string(mysql, UnsafeMutableRawPointer(out.baseAddress! + 1).assumingMemoryBound(to: CChar.self),
                                                 from.baseAddress, UInt(from.count))
                    })
                    out[length + 1] = UInt8(ascii: "'")
                    return length + 2
                }
            }
        }
    }

    /// Rows of a text query as dictionaries by column name (for status commands such as SHOW SLAVE STATUS).
    public func queryNamed(_ sql: String) throws(MySQLError) -> [[String: MySQLValue]] {
        let mysql = try send(sql)
        guard let result = mysql_store_result(mysql) else {
            if mysql_field_count(mysql) != 0 { throw failure(Self.error(of: mysql)) }
            return []
        }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        let fields = mysql_fetch_fields(result)!
        let names = (0..<columns).map { String(cString: fields[$0].name) }
        var rows: [[String: MySQLValue]] = []
        while let row = mysql_fetch_row(result) {
            var named: [String: MySQLValue] = [:]
            for (name, value) in zip(names, Self.textValues(of: row, in: result, columns: columns)) { named[name] = value }
            rows.append(named)
        }
        return rows
    }

    /// The rows of the result the connection is at (none for a statement that returns none).
    private func currentResult(_ mysql: UnsafeMutablePointer<MYSQL>) throws(MySQLError) -> [MySQLRow] {
        guard let result = mysql_store_result(mysql) else {
            if mysql_field_count(mysql) != 0 { throw failure(Self.error(of: mysql)) }
            return []
        }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        var rows: [MySQLRow] = []
        while let row = mysql_fetch_row(result) {
            rows.append(MySQLRow(values: Self.textValues(of: row, in: result, columns: columns)))
        }
        return rows
    }

    /// Sends SQL over the text protocol; its results are then read with `mysql_store_result`.
    private func send(_ sql: String) throws(MySQLError) -> UnsafeMutablePointer<MYSQL> {
        let mysql = try requireHandle()
        let status = sql.withCString { mysql_real_query(mysql, $0, UInt(sql.utf8.count)) }
        guard status == 0 else { throw failure(Self.error(of: mysql)) }
        return mysql
    }

    /// The cells of the row just fetched from `result`: the text protocol sends every value as text (NULL apart).
    private static func textValues(of row: MYSQL_ROW, in result: UnsafeMutablePointer<MYSQL_RES>, columns: Int) -> [MySQLValue] {
        let lengths = mysql_fetch_lengths(result)!
        var values: [MySQLValue] = []
        values.reserveCapacity(columns)
        for column in 0..<columns {
            if let cell = row[column] {
                values.append(.text(String(decoding: UnsafeRawBufferPointer(start: cell, count: Int(lengths[column])), as: UTF8.self)))
            } else {
                values.append(.null)
            }
        }
        return values
    }
}
