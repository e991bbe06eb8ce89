/// Forecast combinations chosen per series by rolling origins of its own history (issue 16).
///
/// On the lumpy retail series the single methods differ little on average and a lot series by series, and which
/// one wins a window is mostly luck. Taking the median of the few that did best on the series' recent past keeps
/// the choice (a series whose demand stepped up is led by the recent means, a steady one by the smoothers) without
/// betting everything on one noisy winner; the mean with fitted TSB then halves what is left of that bet.
/// Measured on the shipped data in BENCHMARKS.md ("Combinations chosen by rolling origins").
extension AutoForecaster {
    /// Candidates of the combinations: cheap methods that suit intermittent demand, and two recent means that
    /// follow a level shift the smoothers (alpha 0.1-0.3 on sizes every few weeks) take months to see.
    public static let combinationCandidates: [ForecastMethod] = [
        .tsbFitted, .tsb, .sesOptimized, .imapa, .adida, .crostonSBA, .recentMean84, .recentMean168,
    ]

    /// Rolling-origin windows are at least this long, whatever the horizon asked for: the thresholds ask for one
    /// period ahead, and six single days would rank the candidates by luck.
    public static let minimumValidationWindow = 28

    /// The per-step median of the `top` candidates with the least squared error summed over `windows` rolling
    /// origins of `y` (fitted on all but the last w x v periods, scored on the next v, w = 1 ... windows, where
    /// v = max(horizon, `minimumValidationWindow`); origins leaving fewer than 2 x v periods to fit are skipped),
    /// each refitted on all of `y`.
    /// With `anchor`, the result is the mean of that median and the anchor's forecast. With no usable origin (a
    /// short history) it is the anchor's forecast, or fitted TSB's. Never negative; all zeros for an empty series.
    public func combineByRollingOrigin(_ y: [Double], horizon: Int, windows: Int = 6, top: Int = 3,
                                       anchor: ForecastMethod? = nil,
                                       candidates: [ForecastMethod] = combinationCandidates) -> [Double] {
        let fallback = anchor ?? .tsbFitted
        guard horizon >= 1 else { return [] }
        let validation = max(horizon, Self.minimumValidationWindow)
        guard let ranked = rankByRollingOrigin(y, horizon: validation, windows: windows, candidates: candidates) else {
            return nonNegative(fallback.forecast(y, horizon: horizon, season: season))
        }
        let best = ranked.prefix(max(1, top)).map { nonNegative($0.forecast(y, horizon: horizon, season: season)) }
        let median = Self.median(best)
        guard let anchor else { return median }
        let anchored = nonNegative(anchor.forecast(y, horizon: horizon, season: season))
        return zip(median, anchored).map { ($0 + $1) / 2 }
    }

    /// `candidates` ordered by their squared error summed over the rolling origins (least first, ties in the
    /// given order), or nil when no origin leaves 2 x horizon periods to fit.
    public func rankByRollingOrigin(_ y: [Double], horizon: Int, windows: Int, candidates: [ForecastMethod]) -> [ForecastMethod]? {
        let cuts = (1...max(1, windows)).map { y.count - $0 * horizon }.filter { $0 >= 2 * horizon }
        guard horizon >= 1, !cuts.isEmpty, !candidates.isEmpty else { return nil }
        let errors = candidates.map { candidate in
            cuts.reduce(0.0) { total, cut in
                let forecast = nonNegative(candidate.forecast(Array(y.prefix(cut)), horizon: horizon, season: season))
                return total + zip(forecast, y[cut..<(cut + horizon)]).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }
        }
        // A NaN error (a method that failed on a window) ranks last.
        func key(_ i: Int) -> Double { errors[i].isNaN ? .infinity : errors[i] }
        return candidates.indices.sorted { key($0) < key($1) || (key($0) == key($1) && $0 < $1) }.map { candidates[$0] }
    }

    /// The per-step median of equally long forecasts (the mean of the two middle values for an even count).
    public static func median(_ forecasts: [[Double]]) -> [Double] {
        guard let steps = forecasts.map(\.count).min(), !forecasts.isEmpty else { return [] }
        return (0..<steps).map { step in
            let values = forecasts.map { $0[step] }.sorted()
            let middle = values.count / 2
            return values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
        }
    }

    private func nonNegative(_ forecast: [Double]) -> [Double] { forecast.map { $0.isNaN ? 0 : max(0, $0) } }
}
