import BazaarForecasting
import Foundation

/// `../shared/data`: 50 real daily demand series (UCI Online Retail II, CC BY 4.0, Daqing Chen) and
/// statsforecast 2.1.1's forecasts of their last 28 periods.
enum ReferenceData {
    static let horizon = 28
    static let season = 6

    static var folder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data").standardized
    }

    static func series() throws -> [DemandSeries] {
        try DemandSeries.parseCSV(String(contentsOf: folder.appendingPathComponent("online-retail-50.csv"), encoding: .utf8))
    }

    /// model -> series id -> 28 forecasts.
    static func statsforecast() throws -> [String: [String: [Double]]] {
        let text = try String(contentsOf: folder.appendingPathComponent("online-retail-50.statsforecast.csv"), encoding: .utf8)
        var result: [String: [String: [Double]]] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",")
            result[String(f[2]), default: [:]][String(f[0]), default: []].append(Double(f[3])!)
        }
        return result
    }
}
