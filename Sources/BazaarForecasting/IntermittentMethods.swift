/// Forecasting methods for intermittent demand (many zero periods), as defined by statsforecast.
public enum IntermittentMethods {
    /// The non-zero demand sizes.
    static func sizes(_ y: [Double]) -> [Double] { y.filter { $0 != 0 } }

    /// Periods between non-zero demands, the first counted from the start of the series.
    public static func intervals(_ y: [Double]) -> [Double] {
        var result: [Double] = []
        var previous = -1
        for (index, value) in y.enumerated() where value != 0 {
            result.append(Double(index - previous))
            previous = index
        }
        return result
    }

    /// Croston's method: SES (alpha 0.1, or optimized) on sizes and on intervals; size / interval.
    public static func croston(_ y: [Double], optimized: Bool = false) -> Double {
        let demand = sizes(y)
        guard !demand.isEmpty else { return 0 }
        let gaps = intervals(y)
        let size = optimized ? SimpleMethods.sesOptimized(demand).forecast : SimpleMethods.ses(demand, alpha: 0.1).forecast
        let interval = optimized ? SimpleMethods.sesOptimized(gaps).forecast : SimpleMethods.ses(gaps, alpha: 0.1).forecast
        return interval != 0 ? size / interval : size
    }

    /// Syntetos-Boylan approximation: Croston x (1 - 0.1 / 2).
    public static func sba(_ y: [Double]) -> Double { 0.95 * croston(y) }

    /// Teunter-Syntetos-Babai: SES of the demand probability over every period times SES of the sizes.
    public static func tsb(_ y: [Double], alphaD: Double = 0.1, alphaP: Double = 0.1) -> Double {
        let demand = sizes(y)
        guard !demand.isEmpty else { return 0 }
        let probability = SimpleMethods.ses(y.map { $0 != 0 ? 1 : 0 }, alpha: alphaP).forecast
        return probability * SimpleMethods.ses(demand, alpha: alphaD).forecast
    }

    /// TSB with its two smoothing parameters fitted per series: the pair (from a grid) that minimises the
    /// in-sample one-step squared error, the first `warmUp` periods excluded while the states settle.
    public static func tsbFitted(_ y: [Double], grid: [Double] = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]) -> (forecast: Double, alphaD: Double, alphaP: Double) {
        guard let firstDemand = y.firstIndex(where: { $0 != 0 }) else { return (0, 0.1, 0.1) }
        let warmUp = min(y.count / 4, 28)
        var best = (sse: Double.infinity, alphaD: 0.1, alphaP: 0.1)
        for alphaD in grid {
            for alphaP in grid {
                // States as `tsb`: probability over every period from the first value, size from the first demand.
                var p = y[0] != 0 ? 1.0 : 0.0, z = y[firstDemand]
                var sse = 0.0
                for t in 1..<max(1, y.count) where y.count > 1 {
                    let previous = y[t - 1]
                    p = alphaP * (previous != 0 ? 1 : 0) + (1 - alphaP) * p
                    if previous != 0, t - 1 > firstDemand { z = alphaD * previous + (1 - alphaD) * z }
                    if t >= warmUp {
                        let e = y[t] - p * z
                        sse += e * e
                    }
                }
                if sse < best.sse { best = (sse, alphaD, alphaP) }
            }
        }
        return (tsb(y, alphaD: best.alphaD, alphaP: best.alphaP), best.alphaD, best.alphaP)
    }

    /// Aggregate-disaggregate: optimized SES on sums of non-overlapping buckets of the mean interval
    /// (rounded half to even), aligned to the end of the series, divided by the bucket size.
    public static func adida(_ y: [Double]) -> Double {
        let gaps = intervals(y)
        guard !gaps.isEmpty else { return 0 }
        let level = max(1, Int((gaps.reduce(0, +) / Double(gaps.count)).rounded(.toNearestOrEven)))
        return aggregated(y, level: level)
    }

    /// Multiple aggregation: the mean of the ADIDA forecasts for every bucket size 1 ... the rounded mean interval.
    public static func imapa(_ y: [Double]) -> Double {
        let gaps = intervals(y)
        guard !gaps.isEmpty else { return 0 }
        let maxLevel = max(1, Int((gaps.reduce(0, +) / Double(gaps.count)).rounded(.toNearestOrEven)))
        return (1...maxLevel).map { aggregated(y, level: $0) }.reduce(0, +) / Double(maxLevel)
    }

    static func aggregated(_ y: [Double], level: Int) -> Double {
        let cut = Array(y.dropFirst(y.count % level))
        let sums = stride(from: 0, to: cut.count, by: level).map { cut[$0..<($0 + level)].reduce(0, +) }
        guard !sums.isEmpty else { return 0 }
        return SimpleMethods.sesOptimized(sums).forecast / Double(level)
    }
}
