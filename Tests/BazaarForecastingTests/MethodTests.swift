import BazaarForecasting
import Testing

@Suite("Forecasting methods, hand-checked")
struct MethodTests {
    @Test func simpleMethods() {
        let y: [Double] = [1, 2, 3, 4, 5, 6, 7]
        #expect(SimpleMethods.naive(y, horizon: 2) == [7, 7])
        #expect(SimpleMethods.seasonalNaive(y, horizon: 4, season: 3) == [5, 6, 7, 5])
        #expect(SimpleMethods.historicAverage(y, horizon: 1) == [4])
        // SES with alpha 0.5 from level 1: 1, 1, 1.5, 2.25, then 0.5*4 + 0.5*2.25 = 3.125 after [1, 2, 3, 4].
        #expect(SimpleMethods.ses([1, 2, 3, 4], alpha: 0.5).forecast == 0.5 * 4 + 0.5 * 2.25)
        let alpha = SimpleMethods.optimizedAlpha(y)
        #expect(alpha >= 0.1 && alpha <= 0.3)
        #expect(abs(alpha - 0.3) < 1e-6, "a trending series wants the fastest alpha allowed")
    }

    @Test func intermittentBuildingBlocks() {
        let y: [Double] = [0, 3, 0, 0, 2, 0, 4]
        #expect(IntermittentMethods.intervals(y) == [2, 3, 2])
        // Croston: sizes [3, 2, 4], intervals [2, 3, 2], each SES(0.1) from its first value.
        let size = SimpleMethods.ses([3, 2, 4], alpha: 0.1).forecast
        let interval = SimpleMethods.ses([2, 3, 2], alpha: 0.1).forecast
        #expect(abs(IntermittentMethods.croston(y) - size / interval) < 1e-12)
        #expect(abs(IntermittentMethods.sba(y) - 0.95 * size / interval) < 1e-12)
        #expect(IntermittentMethods.croston([0, 0, 0]) == 0)
        #expect(IntermittentMethods.tsb([0, 0, 0]) == 0)
        let fitted = IntermittentMethods.tsbFitted(Array(repeating: [0, 0, 5, 0], count: 30).flatMap { $0 })
        #expect(abs(fitted.forecast - 1.25) < 0.2, "steady demand of 5 every 4 periods forecasts about 1.25 a period")
    }

    @Test func demandClasses() {
        #expect(DemandClass.of([5, 6, 5, 7, 6, 5]) == .smooth)
        #expect(DemandClass.of([1, 20, 2, 30, 1, 25]) == .erratic)
        #expect(DemandClass.of([0, 5, 0, 0, 6, 0, 5]) == .intermittent)
        #expect(DemandClass.of([0, 1, 0, 0, 40, 0, 2]) == .lumpy)
    }

    @Test func etsRecoversALevelAndATrend() throws {
        let flat = (0..<120).map { 10 + ($0 % 2 == 0 ? 0.5 : -0.5) }
        let f1 = try #require(ETS.auto(flat, season: 1)).forecast(horizon: 3)
        #expect(f1.allSatisfy { abs($0 - 10) < 0.6 })
        let trend = (0..<120).map { 5 + 0.5 * Double($0) }
        let fit = try #require(ETS.auto(trend, season: 1))
        #expect(fit.model.trend != .none)
        #expect(abs(fit.forecast(horizon: 1)[0] - (5 + 0.5 * 120)) < 1.0)
        let seasonal = (0..<84).map { 20 + [3.0, -1, -2, 0, 4, -4][$0 % 6] }
        let seasonalFit = try #require(ETS.auto(seasonal, season: 6))
        #expect(seasonalFit.model.seasonal)
        let next = seasonalFit.forecast(horizon: 6)
        for (h, value) in next.enumerated() { #expect(abs(value - (20 + [3.0, -1, -2, 0, 4, -4][(84 + h) % 6])) < 0.5) }
        #expect(seasonalFit.variance(step: 6) >= seasonalFit.variance(step: 1))
    }

    @Test func countQuantilesSuitIntermittentDemand() {
        #expect(Intervals.countQuantile(mean: 0, dispersion: 3, p: 0.95) == 0)
        #expect(Intervals.countQuantile(mean: 0.2, dispersion: 1, p: 0.05) == 0)
        #expect(Intervals.countQuantile(mean: 2, dispersion: 1, p: 0.95) == 5, "Poisson(2): P(X<=4)=0.947, P(X<=5)=0.983")
        let narrow = Intervals.countQuantile(mean: 2, dispersion: 1, p: 0.95)
        let wide = Intervals.countQuantile(mean: 2, dispersion: 4, p: 0.95)
        #expect(wide > narrow, "over-dispersed demand widens the interval")
        #expect(abs(Intervals.normalQuantile(0.975) - 1.959964) < 1e-6)
        let f = AutoForecaster(season: 6).forecast(Array(repeating: [0, 0, 4, 0, 1, 0], count: 20).flatMap { $0 }, horizon: 5)
        #expect(f.lower.allSatisfy { $0 >= 0 })
        #expect(zip(f.lower, f.upper).allSatisfy { $0 <= $1 })
        #expect(zip(f.point, f.upper).allSatisfy { $0 <= $1 })
    }

    @Test func csvParsingSaysWhatIsWrong() throws {
        let series = try DemandSeries.parseCSV("series_id,period,value\r\na,1,2\r\nb,1,0\r\na,2,3\r\n")
        #expect(series.map(\.id) == ["a", "b"])
        #expect(series[0].values == [2, 3])
        #expect(throws: ForecastInputError.self) { try DemandSeries.parseCSV("id,when,qty\n") }
        #expect(throws: ForecastInputError.self) { try DemandSeries.parseCSV("series_id,period,value\na,1,x\n") }
    }
}

@Suite("The automatic choice on the reference data")
struct AutoChoiceTests {
    /// The goal of issue 6: more accurate (RMSSE) than the best single statsforecast method on this data
    /// (TSB, 0.529), choosing only from the training part of each series.
    @Test func beatsTheBestStatsforecastMethod() throws {
        let series = try ReferenceData.series()
        let auto = AutoForecaster(season: ReferenceData.season)
        var scores: [Double] = []
        for s in series {
            let train = Array(s.values.dropLast(ReferenceData.horizon)), actual = Array(s.values.suffix(ReferenceData.horizon))
            if let a = Accuracy(train: train, actual: actual, forecast: auto.forecast(train, horizon: ReferenceData.horizon).point) {
                scores.append(a.rmsse)
            }
        }
        let rmsse = scores.reduce(0, +) / Double(scores.count)
        #expect(scores.count == 50)
        #expect(rmsse < 0.529, "auto RMSSE \(rmsse)")
    }
}
