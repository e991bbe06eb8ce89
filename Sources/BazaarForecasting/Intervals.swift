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

    /// The p-quantile (the smallest k with P(X <= k) >= p) of a count with the given mean and variance-to-mean
    /// ratio: Poisson at a ratio of 1, negative binomial above (see `CountDistribution`). Exact for any mean a
    /// store will meet: it no longer underflows at large means (see `CountDistribution.quantile`).
    public static func countQuantile(mean: Double, dispersion: Double, p: Double) -> Double {
        guard mean > 0, mean.isFinite, p > 0 else { return 0 }
        return Double(CountDistribution(mean: mean, dispersion: dispersion).quantile(p))
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

/// Demand over a span as a count. With a variance-to-mean ratio (dispersion) of 1 it is Poisson(mean); above 1 it
/// is the negative binomial with success probability q = 1/dispersion and size r = mean q/(1-q), the number of
/// failures before the r-th success: mean r(1-q)/q, variance mean/q = mean x dispersion (scipy's `nbinom(r, q)`).
/// A ratio below 1 is treated as 1: under-dispersed daily sales are rare and Poisson is then the cautious choice.
///
/// Why not the textbook recurrence: the naive way starts at P(0) = exp(-mean) (Poisson) or q^r (negative binomial)
/// and adds P(k+1) = P(k) x ratio upwards. P(0) underflows to 0 in double precision once the mean passes about
/// 745 (Poisson) or r log q passes -745, every later term is then 0, and the search runs to its cap: a reorder point
/// of 100,001 for an item selling 2,000 a day. Here the walk starts at the mode instead, where the probability is
/// largest, with the mode's probability set to 1, and goes outwards with the same ratios. Relative to the mode
/// the terms only shrink, so nothing overflows, and terms that underflow are below 1e-300 of the mode and carry no
/// mass. Normalising by the sum of the terms walked gives the exact distribution function to about 1e-13 without
/// ever evaluating exp(-mean), a gamma function or a power of q. Each walk stops when a term falls below 1e-18 of
/// the mass so far: the mass left out is smaller than double precision can represent next to 1.
///
/// Cost: the walk covers the bulk of the distribution, about 20 standard deviations plus, for the negative
/// binomial, about 40 x dispersion steps of its geometric tail; that is microseconds for a slow mover and about a
/// millisecond at a mean of 100,000 with dispersion 3,000. Only when that would exceed four million steps (a
/// standard deviation above 200,000 units, or a dispersion above 100,000: beyond any daily retail series) does it
/// switch to the Cornish-Fisher expansion (normal quantile corrected for skewness, with a continuity correction),
/// whose error there is a small fraction of a standard deviation.
///
/// `Tests/BazaarForecastingTests/QuantileFixtureTests.swift` holds `quantile` to scipy's, from a mean of 0.01 to
/// 100,000, at service levels from 0.05 to 0.999 and dispersions from 1 to 3,000.
public struct CountDistribution: Sendable, Equatable {
    public let mean: Double
    /// Variance divided by mean, at least 1.
    public let dispersion: Double
    /// Negative binomial size r (nil for Poisson).
    let size: Double?
    /// Negative binomial success probability q = 1/dispersion.
    let q: Double

    public init(mean: Double, dispersion: Double) {
        self.mean = max(0, mean)
        // Within a millionth of 1 the negative binomial's size would be astronomically large: it is Poisson.
        self.dispersion = dispersion > 1.000001 ? dispersion : 1
        q = 1 / self.dispersion
        size = self.dispersion > 1 ? self.mean * q / (1 - q) : nil
    }

    public var variance: Double { mean * dispersion }

    /// The most probable count: floor(mean) for Poisson, floor((r-1)(1-q)/q) for the negative binomial with r > 1,
    /// else 0 (with r <= 1 the probabilities fall from 0 onwards).
    public var mode: Int {
        guard let r = size else { return Int(mean.rounded(.down)) }
        return r > 1 ? Int(((r - 1) * (1 - q) / q).rounded(.down)) : 0
    }

    /// P(k+1) / P(k): mean/(k+1) for Poisson, (k+r)/(k+1) x (1-q) for the negative binomial.
    @inline(__always) func ratio(_ k: Int) -> Double {
        guard let r = size else { return mean / Double(k + 1) }
        return (Double(k) + r) / Double(k + 1) * (1 - q)
    }

    /// The smallest k with P(X <= k) >= p, for 0 < p < 1 (exact; Cornish-Fisher only beyond the sizes above).
    public func quantile(_ p: Double) -> Int {
        guard mean > 0, p > 0 else { return 0 }
        let steps = 20 * variance.squareRoot() + (size == nil ? 0 : 40 * dispersion)
        guard steps <= 4_000_000 else { return cornishFisher(p) }
        let m = mode
        let cutoff = 1e-18
        // Mass below the mode, relative to P(mode) = 1, walking down: P(k) = P(k+1) / ratio(k).
        var below = 0.0, term = 1.0, k = m
        while k > 0 {
            term /= ratio(k - 1)
            k -= 1
            below += term
            if term < cutoff * (below + 1) { break }
        }
        // Mass from the mode up, walking up: P(k+1) = P(k) x ratio(k).
        var above = 1.0
        term = 1
        k = m
        while true {
            term *= ratio(k)
            k += 1
            above += term
            if term < cutoff * (below + above) && k > m { break }
        }
        let last = k
        let target = p * (below + above)
        if target <= below {
            // The quantile lies below the mode: step down from P(X <= m-1) = below until removing P(k) would
            // leave less than the target.
            var cumulative = below
            term = 1
            k = m
            while k > 0 {
                term /= ratio(k - 1)
                k -= 1
                if cumulative - term < target { return k }
                cumulative -= term
            }
            return 0
        }
        var cumulative = below + 1
        term = 1
        k = m
        while cumulative < target && k < last {
            term *= ratio(k)
            k += 1
            cumulative += term
        }
        return k
    }

    /// The smallest level s >= 0 whose expected shortage E[(X - s)+] (the demand the level leaves unserved, on
    /// average) is at most `budget`: the fill-rate counterpart of `quantile`. A target fill rate beta over a cycle
    /// that brings in Q units on average allows (1 - beta) Q units short per cycle (Silver, Pyke and Peterson's
    /// fill-rate rule), so a level set this way serves a share of demand rather than a share of cycles: a slow
    /// mover whose rare stock-outs lose one unit needs less safety stock than under a cycle service level, a
    /// lumpy item whose stock-outs lose a big order more.
    ///
    /// E[(X - s)+] falls as s rises, by P(X > s) per unit: E[(X - (s-1))+] = E[(X - s)+] + P(X >= s). It is walked
    /// down from the top of the support (where it is 0) over the same normalised terms as `quantile`. Beyond that
    /// walk's budget the normal loss function sd x (phi(z) - z (1 - Phi(z))) is solved by bisection instead.
    public func smallestLevel(expectedShortageAtMost budget: Double) -> Int {
        guard mean > 0, budget < mean else { return 0 }
        let steps = 20 * variance.squareRoot() + (size == nil ? 0 : 40 * dispersion)
        guard steps <= 4_000_000 else { return normalLossLevel(budget) }
        let (low, terms) = support()
        var excess = 0.0, atOrAbove = 0.0
        var s = low + terms.count - 1
        while s > 0 {
            atOrAbove += s - low >= 0 ? terms[s - low] : 0
            if excess + atOrAbove > budget { return s }
            excess += atOrAbove
            s -= 1
        }
        return 0
    }

    /// The probabilities of the counts from `low` on that carry any mass in double precision, walked out from the
    /// mode as in `quantile` and normalised to sum to 1.
    func support() -> (low: Int, probabilities: [Double]) {
        let m = mode, cutoff = 1e-18
        var down: [Double] = [], term = 1.0, total = 1.0, k = m
        while k > 0 {
            term /= ratio(k - 1)
            k -= 1
            down.append(term)
            total += term
            if term < cutoff * total { break }
        }
        var up: [Double] = [1]
        term = 1
        k = m
        while true {
            term *= ratio(k)
            k += 1
            up.append(term)
            total += term
            if term < cutoff * total { break }
        }
        return (m - down.count, (down.reversed() + up).map { $0 / total })
    }

    func normalLossLevel(_ budget: Double) -> Int {
        let sd = variance.squareRoot()
        func loss(_ s: Double) -> Double {
            let z = (s - mean) / sd
            return sd * (exp(-z * z / 2) / (2 * Double.pi).squareRoot() - z * 0.5 * erfc(z / 2.squareRoot()))
        }
        var lo = 0.0, hi = mean + 40 * sd
        for _ in 0..<200 where hi - lo > 0.5 {
            let mid = (lo + hi) / 2
            if loss(mid) > budget { lo = mid } else { hi = mid }
        }
        return Int(hi.rounded(.up))
    }

    /// mean + sd (z + (z^2 - 1) skewness / 6), less the continuity correction of one half, rounded up.
    /// Skewness: 1/sd for Poisson, (2 - q)/sqrt(r(1 - q)) for the negative binomial.
    func cornishFisher(_ p: Double) -> Int {
        let sd = variance.squareRoot()
        let skewness = size.map { (2 - q) / ($0 * (1 - q)).squareRoot() } ?? 1 / sd
        let z = Intervals.normalQuantile(p)
        let value = mean + sd * (z + (z * z - 1) * skewness / 6) - 0.5
        // At p = 1 the normal quantile's tail formula is inf / inf: the top of the range, not a trap.
        guard !value.isNaN else { return p >= 0.5 ? 9_000_000_000_000_000 : 0 }
        return max(0, Int(min(value.rounded(.up), 9e15)))
    }
}

/// M5-style accuracy of a forecast against what happened, scaled by the training series' one-step naive error.
public struct Accuracy: Sendable, Equatable {
    public var rmsse: Double
    public var mase: Double
    /// Mean of forecast minus actual.
    public var bias: Double
    /// Mean of the actual values: over many series, mean bias / mean actualMean is the relative bias (forecast
    /// total over actual total, minus 1), the figure issue 16's +-10% goal is about.
    public var actualMean: Double = 0

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
        actualMean = actual.reduce(0, +) / Double(actual.count)
    }

    /// Forecast total over actual total, minus 1, over a set of accuracies of equally long windows (nil when
    /// nothing was sold).
    public static func relativeBias(_ accuracies: [Accuracy]) -> Double? {
        let actual = accuracies.reduce(0) { $0 + $1.actualMean }
        return actual > 0 ? accuracies.reduce(0) { $0 + $1.bias } / actual : nil
    }
}
