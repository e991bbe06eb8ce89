@testable import BazaarForecasting
import Testing

/// Fill-rate levels past 2^53 (about 9.007e15), where a double no longer holds every whole number: near a level of
/// 1.4e16 the whole numbers a double can hold are two apart, so a bisection on whole units whose bounds are one
/// step apart gets a midpoint that rounds back onto a bound and never narrows. A store clerk's key can write such
/// demand (batches of 100 sales of a billion units, the stock set back up between them), and the level is sized in
/// the intelligence pass, a movement's first evaluation and a settings PUT: each would spin for ever on one of the
/// node's threads. Before the fix none of these calls returned.
@Suite("Fill-rate levels at any magnitude")
struct FillRateMagnitudeTests {
    /// A year of 1e15 units a day, lead time 7, review 7: cycle totals of 1.4e16. The level found is within the
    /// budget, and no more than the next representable whole number above the smallest one that is.
    @Test func theHistorySpansLevelEndsPastTwoToThe53() throws {
        let spans = try #require(HistoryCycleDemand(history: Array(repeating: 1e15, count: 365), leadTime: 7, reviewPeriod: 7))
        let budget = FillRateSizing.shortageBudget(fillRate: 0.999, rate: 1e15, reviewPeriod: 7)
        let level = spans.orderUpTo(shortageAtMost: budget)
        #expect(spans.cycleShortage(at: level) <= budget, "\(level)")
        #expect(level <= 1.4e16 && level >= 1.4e16 - budget - 4, "\(level)")
        let t = Thresholds.fromHistoryQuantiles(history: Array(repeating: 1e15, count: 365), rate: 1e15,
                                                parameters: ReplenishmentParameters(leadTime: 7, reviewPeriod: 7, fillRate: 0.999))
        #expect(t.orderUpTo == level)
    }

    /// A short history (the count distribution, by its normal loss beyond the walked sizes) at the same rate.
    @Test func theCountDistributionLevelEndsPastTwoToThe53() {
        let t = Thresholds(rate: 1e15, dispersion: 1, parameters: ReplenishmentParameters(leadTime: 7, reviewPeriod: 7, fillRate: 0.99))
        #expect(t.orderUpTo.isFinite && t.orderUpTo > 1.3e16 && t.orderUpTo < 1.5e16, "\(t.orderUpTo)")
        #expect(t.reorderPoint <= t.orderUpTo)
    }

    /// The bisection itself, for answers from 2^53 to the top of the doubles: it ends, on a level within budget
    /// whose representable predecessor is not.
    @Test(arguments: [9.1e15, 1.4e16, 3e17, 1e20, 1e300])
    func theBisectionEndsAtAnyMagnitude(_ answer: Double) {
        let shortage = { (s: Double) in max(0, answer - s) }
        let level = FillRateSizing.smallestLevel(upper: answer * 2, budget: 0, shortage: shortage)
        #expect(shortage(level) <= 0 && level.nextDown < answer, "\(answer): \(level)")
    }

    /// The span totals' own fill-rate level (`EmpiricalSpanDemand`, used by `bazaar simulate`) has the same bisection.
    @Test func theEmpiricalSpanLevelEndsPastTwoToThe53() throws {
        let demand = try #require(EmpiricalSpanDemand(history: Array(repeating: 1e15, count: 365), span: 14))
        let level = demand.smallestLevel(expectedShortageAtMost: 1e12)
        #expect(level.isFinite && level <= 1.4e16 && level >= 1.4e16 - 1e12 - 4, "\(level)")
    }
}
