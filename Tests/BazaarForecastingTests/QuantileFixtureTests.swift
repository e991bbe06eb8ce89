import BazaarForecasting
import Foundation
import Testing

/// Count and normal quantiles against scipy's, from `scripts/forecasting/count-quantiles.csv` (made once by
/// `scripts/forecasting/count_quantiles.py`; see there for the parametrisation). Before the log-safe walk of
/// `CountDistribution`, every case with a mean above about 745 came out as the search cap, 100,001.
@Suite("Quantiles against scipy")
struct QuantileFixtureTests {
    struct Case {
        var kind: String
        var mean: Double, dispersion: Double, p: Double
        var quantile: Double
        var cdfBelow: Double, cdfAt: Double
    }

    static func cases() throws -> [Case] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/forecasting/count-quantiles.csv").standardized
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("#") }.dropFirst().map { line in
            let f = line.split(separator: ",").map(String.init)
            return Case(kind: f[0], mean: Double(f[1])!, dispersion: Double(f[2])!, p: Double(f[3])!, quantile: Double(f[4])!,
                        cdfBelow: Double(f[5])!, cdfAt: Double(f[6])!)
        }
    }

    /// Every (mean, dispersion, p) of the fixture gives exactly scipy's quantile. The fixture's p are all at least
    /// 1e-8 away from a step of the distribution function, far more than the walk's rounding, so equality is fair.
    @Test func countQuantilesEqualScipysFromMean001To100000() throws {
        let cases = try Self.cases().filter { $0.kind == "count" }
        #expect(cases.count == 17 * 6 * 8)
        #expect(cases.contains { $0.mean == 100_000 } && cases.contains { $0.mean == 0.01 })
        for c in cases {
            let ours = Intervals.countQuantile(mean: c.mean, dispersion: c.dispersion, p: c.p)
            #expect(ours == c.quantile,
                    "mean \(c.mean), dispersion \(c.dispersion), p \(c.p): ours \(ours), scipy \(c.quantile) (cdf \(c.cdfBelow) .. \(c.cdfAt))")
        }
    }

    @Test func normalQuantileEqualsScipysTo1e8() throws {
        let cases = try Self.cases().filter { $0.kind == "normal" }
        #expect(cases.count == 15)
        for c in cases { #expect(abs(Intervals.normalQuantile(c.p) - c.quantile) < 1e-8, "p \(c.p)") }
    }

    /// Beyond the exact walk's budget the Cornish-Fisher approximation takes over; at its threshold both must agree
    /// to a small fraction of a standard deviation.
    @Test func approximationAgreesWithTheWalkWhereTheyMeet() {
        // Poisson with mean 9e7: sd 9,487, 190,000 steps (exact). Same mean, Cornish-Fisher directly.
        for p in [0.05, 0.5, 0.95, 0.999] {
            let d = CountDistribution(mean: 9e7, dispersion: 1)
            let exact = d.quantile(p)
            let sd = d.variance.squareRoot()
            let approximate = Double(d.mean) + sd * Intervals.normalQuantile(p)
            #expect(abs(Double(exact) - approximate) < 0.01 * sd, "p \(p): \(exact) vs \(approximate)")
        }
        // Past the budget (sd above 200,000) the answer is still finite, ordered and centred.
        let huge = CountDistribution(mean: 1e12, dispersion: 1)
        #expect(huge.quantile(0.5) >= 999_999_000_000 && huge.quantile(0.5) <= 1_000_001_000_000)
        #expect(huge.quantile(0.95) > huge.quantile(0.5))
    }

    @Test func intervalsOfHighVolumeIntermittentDemandAreNotTheSearchCap() {
        // Lumpy demand of 0 to 2,500 a day: the 90% interval of a forecast of 1,200 must straddle it, not sit at 100,001.
        var random = SeededNormal(seed: 7)
        let y: [Double] = (0..<200).map { _ -> Double in
            let sells = random.uniform() < 0.6
            return sells ? (2_500 * random.uniform()).rounded() : 0
        }
        let (lo, hi) = Intervals.forecastInterval(y, point: [1_200, 1_200], demandClass: .lumpy, coverage: 0.9)
        #expect(lo.allSatisfy { $0 >= 0 && $0 < 1_200 })
        #expect(hi.allSatisfy { $0 > 1_200 && $0 < 10_000 }, "\(hi)")
    }
}
