import BazaarDomain
import Testing

@testable import BazaarCore

/// `IntelligenceService.histories`: the forecast's window and the spans' year from one walk of a year of daily
/// demand rows, exactly what the two windows read apart give (the pass reads a year of rows for every item, and
/// walking them twice was a tenth of its time).
@Suite("The intelligence's demand windows")
struct DemandWindowsTests {
    let today: Int64 = 20_000

    /// Rows of one store x product: sales, returns over sales, days without stock (at the start, between rows, on
    /// a row), rows before the year, and an empty list.
    func randomRows(_ seed: inout UInt64) -> [DemandDay] {
        func next(_ n: UInt64) -> Int64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((seed >> 33) % n)
        }
        var rows: [DemandDay] = []
        var day = today - 420 + next(400)
        while day < today + 2 {
            let sold = next(4) == 0 ? 0 : next(30), returned = next(6) == 0 ? next(40) : 0
            rows.append(DemandDay(storeID: "S1", productID: "P1", day: day, sold: sold, returned: returned,
                                  inStock: next(5) != 0, closing: next(4) == 0 ? 0 : next(50)))
            day += 1 + next(next(3) == 0 ? 60 : 4)
        }
        return rows
    }

    @Test func oneWalkAnswersWhatBothWindowsGive() {
        var seed: UInt64 = 16
        for _ in 0..<400 {
            let rows = randomRows(&seed)
            let both = IntelligenceService.histories(rows, today: today)
            let forecast = IntelligenceService.history(rows, today: today)
            let year = IntelligenceService.history(rows, today: today, windowDays: IntelligenceService.spanHistoryDays)
            #expect(both.history == forecast.history)
            #expect(both.censoredDays == forecast.censoredDays)
            #expect(both.spanHistory == year.history)
        }
        let none = IntelligenceService.histories([], today: today)
        #expect(none.history.isEmpty && none.spanHistory.isEmpty && none.censoredDays == 0)
    }
}
