/// Every forecasting method Bazaar offers, by the name used in CSV output and reports.
public enum ForecastMethod: String, Sendable, CaseIterable {
    case naive = "Naive"
    case seasonalNaive = "SeasonalNaive"
    case historicAverage = "HistoricAverage"
    case sesOptimized = "SESOpt"
    case crostonClassic = "CrostonClassic"
    case crostonOptimized = "CrostonOptimized"
    case crostonSBA = "CrostonSBA"
    case tsb = "TSB"
    case tsbFitted = "TSBFitted"
    case adida = "ADIDA"
    case imapa = "IMAPA"
    case ets = "ETS"

    public func forecast(_ y: [Double], horizon: Int, season: Int) -> [Double] {
        switch self {
        case .naive: return SimpleMethods.naive(y, horizon: horizon)
        case .seasonalNaive: return SimpleMethods.seasonalNaive(y, horizon: horizon, season: season)
        case .historicAverage: return SimpleMethods.historicAverage(y, horizon: horizon)
        case .sesOptimized: return flat(SimpleMethods.sesOptimized(y).forecast, horizon)
        case .crostonClassic: return flat(IntermittentMethods.croston(y), horizon)
        case .crostonOptimized: return flat(IntermittentMethods.croston(y, optimized: true), horizon)
        case .crostonSBA: return flat(IntermittentMethods.sba(y), horizon)
        case .tsb: return flat(IntermittentMethods.tsb(y), horizon)
        case .tsbFitted: return flat(IntermittentMethods.tsbFitted(y).forecast, horizon)
        case .adida: return flat(IntermittentMethods.adida(y), horizon)
        case .imapa: return flat(IntermittentMethods.imapa(y), horizon)
        case .ets: return ETS.auto(y, season: season)?.forecast(horizon: horizon) ?? SimpleMethods.historicAverage(y, horizon: horizon)
        }
    }

    private func flat(_ value: Double, _ horizon: Int) -> [Double] { Array(repeating: value, count: horizon) }
}

/// Syntetos-Boylan demand classes, from the average demand interval (ADI) and the squared coefficient of
/// variation of the non-zero sizes (CV²).
public enum DemandClass: String, Sendable {
    case smooth, erratic, intermittent, lumpy

    public static func of(_ y: [Double]) -> DemandClass {
        let gaps = IntermittentMethods.intervals(y)
        let sizes = y.filter { $0 != 0 }
        guard !gaps.isEmpty else { return .intermittent }
        let adi = gaps.reduce(0, +) / Double(gaps.count)
        let mean = sizes.reduce(0, +) / Double(sizes.count)
        let variance = sizes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(sizes.count)
        let cv2 = mean != 0 ? variance / (mean * mean) : 0
        switch (adi >= 1.32, cv2 >= 0.49) {
        case (false, false): return .smooth
        case (false, true): return .erratic
        case (true, false): return .intermittent
        case (true, true): return .lumpy
        }
    }
}

/// A forecast of one series: the point forecast per step and a prediction interval.
public struct SeriesForecast: Sendable {
    public var model: String
    public var demandClass: DemandClass
    public var point: [Double]
    public var lower: [Double]
    public var upper: [Double]
}

/// The automatic choice. Intermittent and lumpy series (most retail series) get TSB with its smoothing
/// parameters fitted per series; smooth and erratic series get the best of ETS (AICc-selected), SES,
/// fitted TSB, IMAPA, the historic average and the seasonal naive on a holdout cut from the end of the
/// training data (never from what is being forecast), refitted on all of it.
public struct AutoForecaster: Sendable {
    public var season: Int
    /// Central coverage of the prediction interval.
    public var coverage: Double

    public init(season: Int = 7, coverage: Double = 0.9) {
        self.season = season
        self.coverage = coverage
    }

    public static let smoothCandidates: [ForecastMethod] = [.ets, .sesOptimized, .tsbFitted, .imapa, .historicAverage, .seasonalNaive]

    public func choose(_ y: [Double], horizon: Int) -> ForecastMethod {
        switch DemandClass.of(y) {
        case .intermittent, .lumpy:
            return .tsbFitted
        case .smooth, .erratic:
            let holdout = min(horizon, y.count / 5)
            guard holdout >= 4 else { return .sesOptimized }
            let train = Array(y.dropLast(holdout)), test = Array(y.suffix(holdout))
            return Self.smoothCandidates.min { a, b in
                squaredError(a.forecast(train, horizon: holdout, season: season), test)
                    < squaredError(b.forecast(train, horizon: holdout, season: season), test)
            }!
        }
    }

    public func forecast(_ y: [Double], horizon: Int) -> SeriesForecast {
        let method = choose(y, horizon: horizon)
        let point = method.forecast(y, horizon: horizon, season: season).map { max(0, $0) }
        let demandClass = DemandClass.of(y)
        let (lower, upper) = Intervals.forecastInterval(y, point: point, demandClass: demandClass, coverage: coverage)
        return SeriesForecast(model: method.rawValue, demandClass: demandClass, point: point, lower: lower, upper: upper)
    }

    private func squaredError(_ forecast: [Double], _ actual: [Double]) -> Double {
        zip(forecast, actual).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
    }
}
