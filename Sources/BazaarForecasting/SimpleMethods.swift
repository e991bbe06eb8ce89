/// Point-forecast methods with closed definitions, written to agree with statsforecast 2.x to ~1e-12
/// (see `../shared/data/README.md`). Every function takes the training series oldest first.
public enum SimpleMethods {
    /// The last value, repeated.
    public static func naive(_ y: [Double], horizon: Int) -> [Double] {
        Array(repeating: y.last ?? 0, count: horizon)
    }

    /// The last full season, repeated.
    public static func seasonalNaive(_ y: [Double], horizon: Int, season: Int) -> [Double] {
        guard season > 0, y.count >= season else { return naive(y, horizon: horizon) }
        return (0..<horizon).map { y[y.count - season + $0 % season] }
    }

    /// The mean of the whole history.
    public static func historicAverage(_ y: [Double], horizon: Int) -> [Double] {
        Array(repeating: y.isEmpty ? 0 : y.reduce(0, +) / Double(y.count), count: horizon)
    }

    /// The mean of the last `periods` values (of all of them when there are fewer; 0 for none).
    public static func recentMean(_ y: [Double], periods: Int) -> Double {
        let recent = y.suffix(max(1, periods))
        return recent.isEmpty ? 0 : recent.reduce(0, +) / Double(recent.count)
    }

    /// Simple exponential smoothing with the level started at the first value; the flat one-step forecast
    /// after the last value, and the in-sample one-step fitted values (first one equal to the first value).
    public static func ses(_ y: [Double], alpha: Double) -> (forecast: Double, fitted: [Double]) {
        guard let first = y.first else { return (0, []) }
        var level = first
        var fitted = [Double](repeating: first, count: y.count)
        for i in 1..<max(1, y.count) where y.count > 1 {
            level = alpha * y[i - 1] + (1 - alpha) * level
            fitted[i] = level
        }
        return (alpha * y[y.count - 1] + (1 - alpha) * level, fitted)
    }

    /// In-sample sum of squared one-step errors of SES.
    static func sesSSE(_ y: [Double], alpha: Double) -> Double {
        guard var level = y.first else { return 0 }
        var sse = 0.0
        for i in 1..<max(1, y.count) where y.count > 1 {
            level = alpha * y[i - 1] + (1 - alpha) * level
            let error = y[i] - level
            sse += error * error
        }
        return sse
    }

    /// The SSE-minimising alpha in [0.1, 0.3] by golden-section search, as statsforecast does.
    public static func optimizedAlpha(_ y: [Double], lower: Double = 0.1, upper: Double = 0.3) -> Double {
        GoldenSection.minimize(lower: lower, upper: upper) { sesSSE(y, alpha: $0) }
    }

    public static func sesOptimized(_ y: [Double]) -> (forecast: Double, fitted: [Double], alpha: Double) {
        let alpha = optimizedAlpha(y)
        let (forecast, fitted) = ses(y, alpha: alpha)
        return (forecast, fitted, alpha)
    }
}

/// Golden-section minimisation of a unimodal function on an interval.
enum GoldenSection {
    static func minimize(lower: Double, upper: Double, tolerance: Double = 1e-10, _ f: (Double) -> Double) -> Double {
        let invPhi = (5.0.squareRoot() - 1) / 2
        var a = lower, b = upper
        var c = b - invPhi * (b - a), d = a + invPhi * (b - a)
        var fc = f(c), fd = f(d)
        while abs(b - a) > tolerance {
            if fc < fd {
                b = d; d = c; fd = fc
                c = b - invPhi * (b - a); fc = f(c)
            } else {
                a = c; c = d; fc = fd
                d = a + invPhi * (b - a); fd = f(d)
            }
        }
        return (a + b) / 2
    }
}
