/// Demand series in the `series_id,period,value` CSV form (rows in period order per series).
public struct DemandSeries: Sendable, Equatable {
    public var id: String
    public var periods: [String]
    public var values: [Double]

    public init(id: String, periods: [String], values: [Double]) {
        self.id = id
        self.periods = periods
        self.values = values
    }

    /// Parses CSV text with a header naming at least `series_id`, `period` and `value`; series keep first-seen order.
    public static func parseCSV(_ text: String) throws(ForecastInputError) -> [DemandSeries] {
        var lines = text.split(whereSeparator: \.isNewline).makeIterator()
        guard let header = lines.next() else { throw .init("the input is empty; expected a header series_id,period,value") }
        let columns = header.split(separator: ",").map { $0.trimmed }
        guard let idColumn = columns.firstIndex(of: "series_id"), let periodColumn = columns.firstIndex(of: "period"),
            let valueColumn = columns.firstIndex(of: "value")
        else { throw .init("the header must name series_id, period and value (got \(header))") }
        var order: [String] = []
        var byID: [String: DemandSeries] = [:]
        var lineNumber = 1
        while let line = lines.next() {
            lineNumber += 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == columns.count else { throw .init("line \(lineNumber): expected \(columns.count) fields, got \(fields.count)") }
            let id = String(fields[idColumn])
            guard let value = Double(fields[valueColumn].trimmed), value.isFinite else {
                throw .init("line \(lineNumber): value \(fields[valueColumn]) is not a number")
            }
            if byID[id] == nil {
                order.append(id)
                byID[id] = DemandSeries(id: id, periods: [], values: [])
            }
            byID[id]!.periods.append(String(fields[periodColumn]))
            byID[id]!.values.append(value)
        }
        return order.map { byID[$0]! }
    }
}

public struct ForecastInputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension StringProtocol {
    /// Without leading and trailing white space.
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
