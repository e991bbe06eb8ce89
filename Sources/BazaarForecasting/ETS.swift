import Foundation

/// Exponential smoothing state-space models with additive errors (the ETS family R's `ets` and
/// statsforecast's AutoETS search when the data has zeros): ANN, AAN, AAdN, ANA, AAA, AAdA.
/// Parameters and initial states are fitted by Nelder-Mead on the likelihood; the model by AICc.
public struct ETSModel: Sendable, Equatable {
    public enum Trend: String, Sendable { case none = "N", additive = "A", damped = "Ad" }

    public var trend: Trend
    public var seasonal: Bool
    public var season: Int

    public init(trend: Trend, seasonal: Bool, season: Int) {
        self.trend = trend
        self.seasonal = seasonal
        self.season = seasonal ? season : 1
    }

    public var name: String { "ETS(A,\(trend.rawValue),\(seasonal ? "A" : "N"))" }

    /// The six additive models, seasonal ones only when the season is long enough and the data covers three seasons.
    public static func candidates(season: Int, count: Int) -> [ETSModel] {
        var models: [ETSModel] = [.init(trend: .none, seasonal: false, season: 1), .init(trend: .additive, seasonal: false, season: 1),
                                  .init(trend: .damped, seasonal: false, season: 1)]
        if season > 1, count >= 3 * season {
            models += [.init(trend: .none, seasonal: true, season: season), .init(trend: .additive, seasonal: true, season: season),
                       .init(trend: .damped, seasonal: true, season: season)]
        }
        return models
    }
}

public struct ETSFit: Sendable {
    public var model: ETSModel
    public var alpha: Double, beta: Double, gamma: Double, phi: Double
    /// Final states after the last observation: level, trend, seasonal (most recent first).
    public var level: Double, slope: Double, seasonals: [Double]
    public var sse: Double
    public var count: Int
    public var parameterCount: Int
    public var aicc: Double
    /// Residual variance, SSE / (n - parameters).
    public var variance: Double

    public func forecast(horizon: Int) -> [Double] {
        var damp = 0.0, phiPower = 1.0
        return (1...max(1, horizon)).prefix(horizon).map { h in
            phiPower *= (model.trend == .damped ? phi : 1)
            damp += model.trend == .none ? 0 : phiPower
            let seasonal = model.seasonal ? seasonals[model.season - 1 - (h - 1) % model.season] : 0
            return level + damp * slope + seasonal
        }
    }

    /// Forecast variance h steps ahead (class 1 additive models).
    public func variance(step h: Int) -> Double {
        var total = 1.0
        var phiSum = 0.0, phiPower = 1.0
        for j in 1..<max(1, h) {
            phiPower *= (model.trend == .damped ? phi : 1)
            phiSum += phiPower
            let c = alpha + (model.trend == .none ? 0 : beta * phiSum) + (model.seasonal && j % model.season == 0 ? gamma : 0)
            total += c * c
        }
        return variance * total
    }
}

public enum ETS {
    /// The model of `candidates` with the lowest AICc.
    public static func auto(_ y: [Double], season: Int) -> ETSFit? {
        ETSModel.candidates(season: season, count: y.count).compactMap { fit(y, model: $0) }.min { $0.aicc < $1.aicc }
    }

    public static func fit(_ y: [Double], model: ETSModel) -> ETSFit? {
        let n = y.count
        let m = model.season
        guard n >= 4, let initial = initialStates(y, model: model) else { return nil }
        let hasTrend = model.trend != .none
        let (start, step) = startingPoint(y, model: model, initial: initial)
        let parameterCount = start.count + 1
        guard n > parameterCount + 1 else { return nil }

        func unpack(_ x: [Double]) -> (Double, Double, Double, Double, Double, Double, [Double]) {
            var i = 0
            func next() -> Double { defer { i += 1 }; return x[i] }
            let alpha = next()
            let beta = hasTrend ? next() : 0
            let gamma = model.seasonal ? next() : 0
            let phi = model.trend == .damped ? next() : 1
            let level = next()
            let slope = hasTrend ? next() : 0
            var seasonals: [Double] = []
            if model.seasonal {
                seasonals = Array(x[i..<(i + m - 1)])
                seasonals.append(-seasonals.reduce(0, +))
            }
            return (alpha, beta, gamma, phi, level, slope, seasonals)
        }
        func admissible(_ alpha: Double, _ beta: Double, _ gamma: Double, _ phi: Double) -> Bool {
            guard alpha >= 1e-4, alpha <= 0.9999 else { return false }
            if hasTrend, !(beta >= 1e-4 && beta <= alpha) { return false }
            if model.seasonal, !(gamma >= 1e-4 && gamma <= 1 - alpha) { return false }
            if model.trend == .damped, !(phi >= 0.8 && phi <= 0.98) { return false }
            return true
        }
        let objective: ([Double]) -> Double = { x in
            let (alpha, beta, gamma, phi, level, slope, seasonals) = unpack(x)
            guard admissible(alpha, beta, gamma, phi) else { return .greatestFiniteMagnitude }
            let sse = filter(y, model: model, alpha: alpha, beta: beta, gamma: gamma, phi: phi, level: level, slope: slope, seasonals: seasonals).sse
            return Double(n) * log(max(sse, 1e-300))
        }
        let (best, likelihood) = NelderMead.minimize(start: start, step: step, objective)
        let (alpha, beta, gamma, phi, level0, slope0, seasonals0) = unpack(best)
        guard admissible(alpha, beta, gamma, phi) else { return nil }
        let run = filter(y, model: model, alpha: alpha, beta: beta, gamma: gamma, phi: phi, level: level0, slope: slope0, seasonals: seasonals0)
        let k = Double(parameterCount), nn = Double(n)
        let aic = likelihood + 2 * k
        return ETSFit(
            model: model, alpha: alpha, beta: beta, gamma: gamma, phi: phi, level: run.level, slope: run.slope,
            seasonals: run.seasonals, sse: run.sse, count: n, parameterCount: parameterCount,
            aicc: aic + 2 * k * (k + 1) / (nn - k - 1), variance: run.sse / max(1, nn - k))
    }

    /// Where the optimiser starts, and its first step in each direction. The parameter vector: alpha, [beta], [gamma],
    /// [phi], level, [slope], seasonal[0..<m-1] (the last seasonal state is minus the sum of the others).
    static func startingPoint(_ y: [Double], model: ETSModel, initial: (level: Double, slope: Double, seasonals: [Double]))
        -> (start: [Double], step: [Double]) {
        let hasTrend = model.trend != .none
        var start = [0.1 + 0.2 * 0.9998 / Double(model.season)]
        var step = [0.05]
        if hasTrend { start.append(1e-4 + 0.1 * (start[0] - 1e-4)); step.append(0.01) }
        if model.seasonal { start.append(1e-4 + 0.05 * (1 - start[0] - 1e-4)); step.append(0.01) }
        if model.trend == .damped { start.append(0.8 + 0.99 * 0.18); step.append(0.01) }
        let scale = max(1e-3, y.map(abs).reduce(0, +) / Double(y.count))
        start.append(initial.level); step.append(0.1 * scale)
        if hasTrend { start.append(initial.slope); step.append(0.01 * scale) }
        if model.seasonal {
            start += initial.seasonals.dropLast()
            step += Array(repeating: 0.1 * scale, count: model.season - 1)
        }
        return (start, step)
    }

    /// Runs the model over the series: one-step errors and the final states. The seasonal states live in a
    /// ring buffer (the optimiser calls this thousands of times per model, so it must not allocate per step).
    static func filter(
        _ y: [Double], model: ETSModel, alpha: Double, beta: Double, gamma: Double, phi: Double,
        level: Double, slope: Double, seasonals: [Double]
    ) -> (sse: Double, level: Double, slope: Double, seasonals: [Double]) {
        var l = level, b = slope
        let m = model.season
        var sse = 0.0
        if !model.seasonal {
            for value in y {
                let error = value - (l + phi * b)
                sse += error * error
                l = l + phi * b + alpha * error
                b = phi * b + beta * error
            }
            return (sse, l, b, [])
        }
        // ring[(oldest + k) % m] holds the seasonal state used k steps from now.
        var ring = Array(seasonals.reversed())
        var oldest = 0
        for value in y {
            let seasonal = ring[oldest]
            let error = value - (l + phi * b + seasonal)
            sse += error * error
            l = l + phi * b + alpha * error
            b = phi * b + beta * error
            ring[oldest] = seasonal + gamma * error
            oldest = oldest + 1 == m ? 0 : oldest + 1
        }
        // Back to most-recent-first order.
        let final = (0..<m).map { ring[(oldest + m - 1 - $0) % m] }
        return (sse, l, b, final)
    }

    /// R's `ets` initial states: a classical decomposition of the first three seasons for the seasonal
    /// states, then the mean (or a least-squares line) of the first max(10, 2m) seasonally adjusted values.
    static func initialStates(_ y: [Double], model: ETSModel) -> (level: Double, slope: Double, seasonals: [Double])? {
        let m = model.season
        var adjusted = y
        var seasonals: [Double] = []
        if model.seasonal {
            guard y.count >= 3 * m else { return nil }
            let x = Array(y.prefix(3 * m))
            // Centred moving average (for even m the ends weigh a half).
            var trend = [Double?](repeating: nil, count: x.count)
            let half = m / 2
            for t in half..<(x.count - half) {
                if m % 2 == 0 {
                    var sum = 0.5 * x[t - half] + 0.5 * x[t + half]
                    for j in (t - half + 1)...(t + half - 1) { sum += x[j] }
                    trend[t] = sum / Double(m)
                } else {
                    trend[t] = x[(t - half)...(t + half)].reduce(0, +) / Double(m)
                }
            }
            var figure = [Double](repeating: 0, count: m)
            var counts = [Double](repeating: 0, count: m)
            for t in 0..<x.count { if let tr = trend[t] { figure[t % m] += x[t] - tr; counts[t % m] += 1 } }
            for i in 0..<m { figure[i] = counts[i] > 0 ? figure[i] / counts[i] : 0 }
            let mean = figure.reduce(0, +) / Double(m)
            figure = figure.map { $0 - mean }
            adjusted = x.enumerated().map { $0.element - figure[$0.offset % m] }
            // State order: most recent first; the next observation (t = 0) uses the last one, figure[0].
            seasonals = Array(figure[1..<m].reversed()) + [figure[0]]
        }
        let maxn = min(max(10, 2 * m), adjusted.count)
        let head = Array(adjusted.prefix(maxn))
        if model.trend == .none {
            return (head.reduce(0, +) / Double(maxn), 0, seasonals)
        }
        let xs = (1...maxn).map(Double.init)
        let meanX = xs.reduce(0, +) / Double(maxn), meanY = head.reduce(0, +) / Double(maxn)
        var sxy = 0.0, sxx = 0.0
        for (x, v) in zip(xs, head) { sxy += (x - meanX) * (v - meanY); sxx += (x - meanX) * (x - meanX) }
        let slope = sxx > 0 ? sxy / sxx : 0
        return (meanY - slope * meanX, slope, seasonals)
    }
}
