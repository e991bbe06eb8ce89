import Foundation

/// Prediction intervals. Intermittent and lumpy demand gets quantiles of a count distribution (negative
/// binomial with the forecast as its mean and the recent variance-to-mean ratio, Poisson when there is no
/// over-dispersion): they never go below zero and are integers, as sales are. Smooth demand gets normal
/// quantiles from the in-sample one-step naive error, widening with the square root of the horizon.
public enum Intervals {
    public static func forecastInterval(_ y: [Double], point: [Double], demandClass: DemandClass, coverage: Double) -> ([Double], [Double]) {
        let tail = (1 - coverage) / 2
        switch demandClass {
        case .intermittent, .lumpy:
            let recent = Array(y.suffix(84))
            let mean = recent.reduce(0, +) / Double(max(1, recent.count))
            let variance = recent.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, recent.count - 1))
            let dispersion = mean > 0 ? max(1, variance / mean) : 1
            let bounds = point.map { mu -> (Double, Double) in
                (countQuantile(mean: mu, dispersion: dispersion, p: tail), countQuantile(mean: mu, dispersion: dispersion, p: 1 - tail))
            }
            return (bounds.map(\.0), bounds.map(\.1))
        case .smooth, .erratic:
            let errors = zip(y.dropFirst(), y).map { $0 - $1 }
            let sigma = (errors.map { $0 * $0 }.reduce(0, +) / Double(max(1, errors.count))).squareRoot()
            let z = normalQuantile(1 - tail)
            let lower = point.enumerated().map { max(0, $1 - z * sigma * Double($0 + 1).squareRoot()) }
            let upper = point.enumerated().map { $1 + z * sigma * Double($0 + 1).squareRoot() }
            return (lower, upper)
        }
    }

    /// The p-quantile of a count with the given mean and variance/mean ratio (negative binomial, or Poisson at 1).
    public static func countQuantile(mean: Double, dispersion: Double, p: Double) -> Double {
        guard mean > 0 else { return 0 }
        var cumulative = 0.0
        var k = 0
        if dispersion <= 1.000001 {
            var pmf = exp(-mean)
            while true {
                cumulative += pmf
                if cumulative >= p || k > 100_000 { return Double(k) }
                k += 1
                pmf *= mean / Double(k)
            }
        }
        // Negative binomial with size r and success probability q: mean r(1-q)/q, variance mean/q.
        let q = 1 / dispersion
        let r = mean * q / (1 - q)
        var pmf = pow(q, r)
        while true {
            cumulative += pmf
            if cumulative >= p || k > 100_000 { return Double(k) }
            pmf *= (Double(k) + r) / Double(k + 1) * (1 - q)
            k += 1
        }
    }

    /// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
    public static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low { return -normalQuantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
}

/// M5-style accuracy of a forecast against what happened, scaled by the training series' one-step naive error.
public struct Accuracy: Sendable, Equatable {
    public var rmsse: Double
    public var mase: Double
    /// Mean of forecast minus actual.
    public var bias: Double

    /// nil when the training series has no variation to scale by.
    public init?(train: [Double], actual: [Double], forecast: [Double]) {
        let steps = zip(train.dropFirst(), train).map { $0 - $1 }
        let scaleSquared = steps.map { $0 * $0 }.reduce(0, +) / Double(max(1, steps.count))
        let scaleAbsolute = steps.map(abs).reduce(0, +) / Double(max(1, steps.count))
        guard scaleSquared > 0, !actual.isEmpty else { return nil }
        let errors = zip(forecast, actual).map { $0 - $1 }
        rmsse = (errors.map { $0 * $0 }.reduce(0, +) / Double(errors.count) / scaleSquared).squareRoot()
        mase = errors.map(abs).reduce(0, +) / Double(errors.count) / scaleAbsolute
        bias = errors.reduce(0, +) / Double(errors.count)
    }
}
