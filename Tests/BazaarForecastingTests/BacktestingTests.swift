import BazaarForecasting
import Testing

@Suite("Rolling-origin backtests and the rolling-origin choice")
struct BacktestingTests {
    @Test func windowsStepBackOneHorizonAtATime() throws {
        let y = (0..<24).map(Double.init)
        let w0 = try #require(Backtesting.split(y, horizon: 4, window: 0))
        #expect(w0.train == (0..<20).map(Double.init) && w0.actual == [20, 21, 22, 23])
        let w2 = try #require(Backtesting.split(y, horizon: 4, window: 2))
        #expect(w2.train == (0..<12).map(Double.init) && w2.actual == [12, 13, 14, 15])
        #expect(Backtesting.split(y, horizon: 4, window: 3) == nil, "8 periods left to fit: fewer than 9")
    }

    @Test func rollingOriginChoiceUsesOnlyTheHistory() {
        // Steady demand of 5 every other day: the mean (2.5) is the best forecast of every window.
        let y = (0..<120).map { $0 % 2 == 0 ? 5.0 : 0 }
        let auto = AutoForecaster(season: 7)
        let chosen = auto.chooseByRollingOrigin(y, horizon: 14)
        #expect(AutoForecaster.rollingOriginCandidates.contains(chosen))
        let f = ForecastMethod.autoRollingOrigin.forecast(y, horizon: 14, season: 7)
        #expect(f.count == 14 && f.allSatisfy { abs($0 - 2.5) < 0.3 }, "\(chosen): \(f)")
        #expect(auto.chooseByRollingOrigin([1, 0, 2], horizon: 14) == .tsbFitted, "too short for any window")
    }

    /// The generalisation finding of issue 16, measured on the only data there is: on the four 28-day windows
    /// before the final holdout of the 50 shipped series, the threshold rule (0.518 on the final holdout, 2.1%
    /// better than TSB) is no better than plain TSB, and the rolling-origin choice beats both.
    @Test func shippedDataOnEarlierWindows() throws {
        let series = try ReferenceData.series().map(\.values)
        let h = ReferenceData.horizon, m = ReferenceData.season
        func rolling(_ forecast: ([Double]) -> [Double]) -> Double {
            let a = (1...4).flatMap { Backtesting.accuracy(series, horizon: h, window: $0, forecast: forecast) }
            #expect(a.count == 200)
            return a.map(\.rmsse).reduce(0, +) / Double(a.count)
        }
        let auto = rolling { AutoForecaster(season: m).forecast($0, horizon: h).point }
        let tsb = rolling { ForecastMethod.tsb.forecast($0, horizon: h, season: m) }
        let cv = rolling { ForecastMethod.autoRollingOrigin.forecast($0, horizon: h, season: m) }
        #expect(auto > tsb, "threshold rule \(auto), TSB \(tsb)")
        #expect(cv < tsb && cv < auto, "rolling-origin choice \(cv), TSB \(tsb), threshold rule \(auto)")
    }

    /// Relative bias is forecast total over actual total, minus 1, over all series: a series selling 100 a day
    /// counts for a hundred times one selling 1, as the units a retailer holds do (the mean of per-series ratios
    /// would let a slow mover over-forecast by 300% outweigh a fast one under-forecast by 20%).
    @Test func relativeBiasIsTotalsNotAMeanOfRatios() throws {
        let train = [0.0, 2, 0, 2, 0, 2]
        let fast = try #require(Accuracy(train: train, actual: [100, 100], forecast: [80, 80]))
        let slow = try #require(Accuracy(train: train, actual: [1, 1], forecast: [4, 4]))
        #expect(fast.actualMean == 100 && fast.bias == -20 && slow.bias == 3)
        #expect(abs(Accuracy.relativeBias([fast, slow])! - (-17.0 / 101)) < 1e-12)
        let none = try #require(Accuracy(train: train, actual: [0, 0], forecast: [1, 1]))
        #expect(Accuracy.relativeBias([none]) == nil && Accuracy.relativeBias([]) == nil)
    }
}
