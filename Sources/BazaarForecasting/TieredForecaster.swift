/// The forecast behind a store x product's thresholds, priced by what it pays (issue 14).
///
/// Most store x product series of a chain are slow movers: intermittent or selling under a unit a day. For those
/// the automatic choice (`AutoForecaster`) fits a rolling-origin combination, 48 fits of cheap methods (about 1.4 ms
/// a series); plain TSB with its textbook smoothing (0.1, 0.1), in one pass over the history, is within 0.7% of it on
/// the shipped retail data's earlier windows (RMSSE 0.5656 against 0.5619; BENCHMARKS.md, "Intelligence at chain
/// scale" and "Combinations chosen by rolling origins"); the combination's 700 or so series a second on a core
/// could not carry a pass of 22,000 pairs a second. Only smooth or erratic series with real volume and enough
/// history get the automatic choice (ETS, SES, IMAPA... on a holdout), where its accuracy is worth its cost.
public struct TieredForecaster: Sendable {
    public enum Tier: String, Sendable {
        /// TSB (0.1, 0.1): one pass, no fitting.
        case fast
        /// `AutoForecaster`: fits and compares several methods.
        case automatic
    }

    public var season: Int
    public var coverage: Double
    /// Mean units a day from which a smooth or erratic series gets the automatic choice.
    public var automaticMinimumRate: Double
    /// Days of history the automatic choice needs (its holdout is a fifth of them).
    public var automaticMinimumHistory: Int

    public init(season: Int = 7, coverage: Double = 0.9, automaticMinimumRate: Double = 1, automaticMinimumHistory: Int = 28) {
        self.season = season
        self.coverage = coverage
        self.automaticMinimumRate = automaticMinimumRate
        self.automaticMinimumHistory = automaticMinimumHistory
    }

    /// The tier a series gets, and its demand class (computed once).
    public func tier(_ y: [Double]) -> (tier: Tier, demandClass: DemandClass) {
        let demandClass = DemandClass.of(y)
        guard y.count >= automaticMinimumHistory else { return (.fast, demandClass) }
        switch demandClass {
        case .intermittent, .lumpy: return (.fast, demandClass)
        case .smooth, .erratic:
            let mean = y.reduce(0, +) / Double(y.count)
            return (mean >= automaticMinimumRate ? .automatic : .fast, demandClass)
        }
    }

    /// The forecast of the series' tier, or of `forcing` (the fast tier where a fit must not run, e.g. while an
    /// alert is evaluated).
    public func forecast(_ y: [Double], horizon: Int, forcing: Tier? = nil) -> (forecast: SeriesForecast, tier: Tier) {
        let (chosen, demandClass) = tier(y)
        let tier = forcing ?? chosen
        switch tier {
        case .automatic:
            return (AutoForecaster(season: season, coverage: coverage).forecast(y, horizon: horizon), .automatic)
        case .fast:
            let point = [Double](repeating: max(0, IntermittentMethods.tsb(y)), count: horizon)
            let (lower, upper) = Intervals.forecastInterval(y, point: point, demandClass: demandClass, coverage: coverage)
            return (SeriesForecast(model: ForecastMethod.tsb.rawValue, demandClass: demandClass, point: point, lower: lower, upper: upper), .fast)
        }
    }
}
