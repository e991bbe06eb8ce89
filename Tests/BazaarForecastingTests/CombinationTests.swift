import BazaarForecasting
import Testing

@Suite("Combinations chosen by rolling origins (issue 16)")
struct CombinationTests {
    @Test func medianIsTheHandComputedOnePerStep() {
        #expect(AutoForecaster.median([[1, 10], [3, 30], [2, 20]]) == [2, 20])
        #expect(AutoForecaster.median([[1, 8], [4, 2], [3, 6], [10, 0]]) == [3.5, 4], "even count: mean of the two middle values")
        #expect(AutoForecaster.median([[5, 5, 5], [1]]) == [3], "as long as the shortest")
        #expect(AutoForecaster.median([]) == [])
    }

    /// A series whose level stepped up three horizons ago: the recent means forecast its last six horizons best,
    /// so they lead the median, and the combination follows the new level where the slow smoothers lag.
    @Test func theMedianOfTheBestFollowsTheHistoryTheyWereRankedOn() throws {
        let horizon = 12
        let y = (0..<240).map { t in t < 204 ? (t % 3 == 0 ? 3.0 : 0) : (t % 3 == 0 ? 9.0 : 0) }
        let auto = AutoForecaster(season: 6)
        // Ranked on windows of 28 periods (`minimumValidationWindow`), longer than the 12 asked for.
        let ranked = try #require(auto.rankByRollingOrigin(y, horizon: 28, windows: 6, candidates: AutoForecaster.combinationCandidates))
        #expect(Set(ranked) == Set(AutoForecaster.combinationCandidates))
        let top = ranked.prefix(3).map { $0.forecast(y, horizon: horizon, season: 6).map { max(0, $0) } }
        let median = auto.combineByRollingOrigin(y, horizon: horizon)
        #expect(median == AutoForecaster.median(top), "the median of the three ranked first, refitted on all of y")
        let anchored = auto.combineByRollingOrigin(y, horizon: horizon, anchor: .tsbFitted)
        let tsb = ForecastMethod.tsbFitted.forecast(y, horizon: horizon, season: 6)
        for step in 0..<horizon { #expect(abs(anchored[step] - (median[step] + tsb[step]) / 2) < 1e-12) }
        #expect(ForecastMethod.autoCombination.forecast(y, horizon: horizon, season: 6) == anchored)
        #expect(anchored[0] > 1.5, "above the old level (1 a day), towards the new one (3 a day): \(anchored[0])")
    }

    /// The thresholds ask for one period ahead: they get the same rate as a 28-period forecast, ranked on the same
    /// 28-period windows, not on six single days.
    @Test func oneStepAheadIsTheSameChoiceAsFourWeeks() {
        // Lumpy: sales on about a quarter of the days, of 0-8 units.
        let y: [Double] = (0..<300).map { (t: Int) -> Double in (t * 7919) % 11 < 3 ? Double((t * 31) % 9) : 0 }
        let auto = AutoForecaster(season: 7)
        let one = auto.combineByRollingOrigin(y, horizon: 1, anchor: .tsbFitted)
        let four = auto.combineByRollingOrigin(y, horizon: 28, anchor: .tsbFitted)
        #expect(one.count == 1 && one[0] == four[0])
    }

    /// Ranking is by error on the series' own past windows: a candidate that is right about them comes first.
    @Test func rankingPutsTheMethodThatFitsThePastWindowsFirst() throws {
        // Alternating 0/4: every level method forecasts about 2, but the historic average is exactly 2 from the start.
        let y = (0..<200).map { $0 % 2 == 0 ? 4.0 : 0 }
        let ranked = try #require(AutoForecaster(season: 7).rankByRollingOrigin(y, horizon: 10, windows: 3, candidates: [.naive, .historicAverage]))
        #expect(ranked == [.historicAverage, .naive])
        #expect(AutoForecaster(season: 7).rankByRollingOrigin(Array(y.prefix(25)), horizon: 10, windows: 3, candidates: [.naive]) == nil,
                "25 periods leave no origin with 20 to fit")
    }

    /// Hostile shapes: nothing sold, a single point, an empty history, shorter than any origin. No NaN, no
    /// negative, always `horizon` values.
    @Test func degenerateSeriesGiveFiniteForecasts() {
        let auto = AutoForecaster(season: 7)
        for y in [[Double](repeating: 0, count: 300), [5], [], [0, 0, 3], (0..<90).map { $0 == 89 ? 1000.0 : 0 }] {
            for anchor in [nil, ForecastMethod.tsbFitted] {
                let f = auto.combineByRollingOrigin(y, horizon: 14, anchor: anchor)
                #expect(f.count == 14 && f.allSatisfy { $0.isFinite && $0 >= 0 }, "\(y.count) periods: \(f)")
            }
            let point = auto.forecast(y.isEmpty ? [0] : y, horizon: 14).point
            #expect(point.count == 14 && point.allSatisfy { $0.isFinite && $0 >= 0 })
        }
        #expect(auto.combineByRollingOrigin([Double](repeating: 0, count: 300), horizon: 14) == [Double](repeating: 0, count: 14))
        #expect(auto.combineByRollingOrigin([1, 2], horizon: 0).isEmpty)
    }

    @Test func recentMeanUsesTheLastPeriods() {
        #expect(SimpleMethods.recentMean([100, 1, 2, 3], periods: 3) == 2)
        #expect(SimpleMethods.recentMean([4, 2], periods: 84) == 3, "fewer than asked: all of them")
        #expect(SimpleMethods.recentMean([], periods: 84) == 0)
    }
}
