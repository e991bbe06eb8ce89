import ArgumentParser
import BazaarDomain
import BazaarForecasting
import Foundation

/// `bazaar forecast`: demand forecasts for any `series_id,period,value` CSV, with no server involved.
struct ForecastCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast demand series from a CSV (series_id,period,value), or backtest the methods on it.",
        subcommands: [ForecastRun.self, Backtest.self],
        defaultSubcommand: ForecastRun.self)
}

struct ForecastInput: ParsableArguments {
    @Option(help: "CSV with columns series_id,period,value, rows in period order per series.") var input: String
    @Option(help: "Periods to forecast.") var horizon: Int
    @Option(help: "Season length in periods (7 for daily data with a weekly rhythm; 6 for a 6-day trading week).") var season = 7

    func load() throws -> [DemandSeries] {
        guard horizon >= 1, horizon <= 10_000 else { throw ValidationError("--horizon must be from 1 to 10000") }
        guard season >= 1, season <= 400 else { throw ValidationError("--season must be from 1 to 400") }
        let text: String
        do { text = try String(contentsOfFile: input, encoding: .utf8) } catch {
            throw ValidationError("cannot read \(input): \(error.localizedDescription)")
        }
        do { return try DemandSeries.parseCSV(text) } catch { throw ValidationError("\(input): \(error)") }
    }
}

struct ForecastRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Write forecasts: series_id,period,model,forecast,lo,hi for the periods after each series' last.")
    @OptionGroup var data: ForecastInput
    @Option(help: "Output CSV (default: standard output).") var output: String?
    @Option(help: "Central coverage of the lo-hi interval.") var coverage = 0.9

    func run() async throws {
        let series = try data.load()
        guard coverage > 0, coverage < 1 else { throw ValidationError("--coverage must be between 0 and 1") }
        let forecaster = AutoForecaster(season: data.season, coverage: coverage)
        var out = "series_id,period,model,forecast,lo,hi\n"
        for s in series where !s.values.isEmpty {
            let f = forecaster.forecast(s.values, horizon: data.horizon)
            let periods = FuturePeriods.after(s.periods, count: data.horizon)
            for h in 0..<data.horizon {
                out += "\(s.id),\(periods[h]),\(f.model),\(format(f.point[h])),\(format(f.lower[h])),\(format(f.upper[h]))\n"
            }
        }
        if let output {
            try out.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(out, terminator: "")
        }
    }

    func format(_ value: Double) -> String { String(format: "%.6f", value) }
}

struct Backtest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold out the last --horizon periods of every series; print RMSSE, MASE, bias and time per method.")
    @OptionGroup var data: ForecastInput
    @Option(help: "Optional reference forecasts (series_id,period,model,forecast) of the same holdout, e.g. statsforecast's, scored alongside.")
    var reference: String?
    @Option(help: "Also score this many earlier rolling origins (each --horizon periods before the next) and print their mean RMSSE and bias: a method or choice tuned on the final holdout shows it there.")
    var windows = 0

    func run() async throws {
        let series = try data.load().filter { $0.values.count > data.horizon + 8 }
        let horizon = data.horizon
        guard windows >= 0, windows <= 100 else { throw ValidationError("--windows must be from 0 to 100") }
        var rows: [(String, [Accuracy], Duration)] = []
        var rolling: [String: [Accuracy]] = [:]
        func score(_ name: String, _ forecast: ([Double]) -> [Double]) {
            if windows > 0 {
                rolling[name] = (1...windows).flatMap { Backtesting.accuracy(series.map(\.values), horizon: horizon, window: $0, forecast: forecast) }
            }
            let clock = ContinuousClock()
            var accuracies: [Accuracy] = []
            var elapsed = Duration.zero
            for s in series {
                let train = Array(s.values.dropLast(horizon)), actual = Array(s.values.suffix(horizon))
                var f: [Double] = []
                elapsed += clock.measure { f = forecast(train) }
                if let a = Accuracy(train: train, actual: actual, forecast: f) { accuracies.append(a) }
            }
            rows.append((name, accuracies, elapsed))
        }
        let auto = AutoForecaster(season: data.season)
        score("Bazaar auto") { auto.forecast($0, horizon: horizon).point }
        // The recompute pass's split (issue 14): TSB for slow movers, the automatic choice for the rest.
        let tiered = TieredForecaster(season: data.season)
        score("Bazaar tiered") { tiered.forecast($0, horizon: horizon).forecast.point }
        for method in ForecastMethod.allCases {
            score(method.rawValue) { method.forecast($0, horizon: horizon, season: data.season) }
        }
        print("Backtest: \(series.count) series, last \(horizon) periods held out, season \(data.season)"
            + (windows > 0 ? "; rolling: \(windows) earlier windows of \(horizon) periods (mean over series and windows)" : ""))
        printTable(rows, seriesCount: series.count, rolling: rolling)
        printVerdict(rows, rolling: rolling)
        if let reference {
            let models = try loadReference(reference)
            var referenceRows: [(String, [Accuracy], Duration)] = []
            for (model, forecasts) in models.sorted(by: { $0.key < $1.key }) {
                let accuracies = series.compactMap { s -> Accuracy? in
                    guard let f = forecasts[s.id], f.count == horizon else { return nil }
                    return Accuracy(train: Array(s.values.dropLast(horizon)), actual: Array(s.values.suffix(horizon)), forecast: f)
                }
                referenceRows.append((model, accuracies, .zero))
            }
            print("\nReference forecasts from \(reference), scored on the same holdout:")
            printTable(referenceRows, seriesCount: series.count, timed: false)
        }
    }

    func printTable(_ rows: [(String, [Accuracy], Duration)], seriesCount: Int, timed: Bool = true, rolling: [String: [Accuracy]] = [:]) {
        print(pad("method", 20) + pad("RMSSE", 9) + pad("MASE", 9) + pad("bias", 10) + pad("bias %", 9)
            + (timed ? pad("seconds", 10) + pad("series/s", 12) : "")
            + (rolling.isEmpty ? "" : pad("rolling RMSSE", 15) + pad("rolling bias", 14) + "rolling bias %"))
        for (name, accuracies, elapsed) in rows.sorted(by: { mean($0.1.map(\.rmsse)) < mean($1.1.map(\.rmsse)) }) {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            var line = pad(name, 20) + pad(fmt(mean(accuracies.map(\.rmsse))), 9) + pad(fmt(mean(accuracies.map(\.mase))), 9)
                + pad(fmt(mean(accuracies.map(\.bias))), 10) + pad(percent(Accuracy.relativeBias(accuracies)), 9)
            if timed { line += pad(String(format: "%.4f", seconds), 10) + pad(String(format: "%.0f", Double(seriesCount) / max(seconds, 1e-9)), 12) }
            if let r = rolling[name] {
                line += pad(String(format: "%.4f", mean(r.map(\.rmsse))), 15) + pad(fmt(mean(r.map(\.bias))), 14) + percent(Accuracy.relativeBias(r))
            }
            print(line)
        }
    }

    /// Methods whose forecasts equal statsforecast's (to 1e-6, `ReferenceTests`): on windows with no reference
    /// file, the best of them stands for "the best statsforecast model".
    static let statsforecastIdentical: [ForecastMethod] = [.naive, .seasonalNaive, .historicAverage, .sesOptimized, .crostonClassic,
                                                           .crostonOptimized, .crostonSBA, .tsb, .adida, .imapa]

    /// One line per evaluation: the automatic choice against the best statsforecast-identical method, in RMSSE.
    func printVerdict(_ rows: [(String, [Accuracy], Duration)], rolling: [String: [Accuracy]]) {
        let names = Set(Self.statsforecastIdentical.map(\.rawValue))
        func line(_ label: String, _ score: [String: Double]) {
            guard let auto = score["Bazaar auto"], let best = score.filter({ names.contains($0.key) }).min(by: { $0.value < $1.value }) else { return }
            print("\(label): Bazaar auto \(String(format: "%.4f", auto)) against \(best.key) \(String(format: "%.4f", best.value)) "
                + "(\(String(format: "%+.1f%%", 100 * (auto / best.value - 1))); negative is better)")
        }
        print("")
        line("Final holdout, best statsforecast-identical method", Dictionary(uniqueKeysWithValues: rows.map { ($0.0, mean($0.1.map(\.rmsse))) }))
        if !rolling.isEmpty {
            line("Earlier windows, best statsforecast-identical method", rolling.mapValues { mean($0.map(\.rmsse)) })
        }
    }

    func loadReference(_ path: String) throws -> [String: [String: [Double]]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var result: [String: [String: [Double]]] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",")
            guard f.count >= 4, let value = Double(f[3]) else { continue }
            result[String(f[2]), default: [:]][String(f[0]), default: []].append(value)
        }
        return result
    }

    func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
    func fmt(_ value: Double) -> String { String(format: "%.3f", value) }
    /// A relative bias as a signed percentage ("-" when nothing was sold).
    func percent(_ value: Double?) -> String { value.map { String(format: "%+.1f%%", 100 * $0) } ?? "-" }
    func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
}

/// The periods after a series' last one: dates on the weekdays the series trades on (so a shop closed on
/// Saturdays gets no Saturday forecasts), or step numbers 1...count when the periods are not dates.
enum FuturePeriods {
    static func after(_ periods: [String], count: Int) -> [String] {
        let days = periods.suffix(70).compactMap { RFC3339.parse($0).map { RFC3339.epochDay(millis: $0) } }
        guard let last = periods.last, RFC3339.parse(last) != nil, days.count == min(70, periods.count) else {
            return (1...max(1, count)).prefix(count).map(String.init)
        }
        let weekdays = Set(days.map { (($0 % 7) + 7) % 7 })
        var day = days.last!
        var result: [String] = []
        while result.count < count {
            day += 1
            if weekdays.contains(((day % 7) + 7) % 7) { result.append(RFC3339.formatDate(epochDay: day)) }
        }
        return result
    }
}
