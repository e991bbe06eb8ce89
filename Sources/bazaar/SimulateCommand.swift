import ArgumentParser
import BazaarForecasting
import Foundation

/// `bazaar simulate`: replays each series' held-out demand through Bazaar's forecast-driven thresholds and
/// through a static min/max rule, and compares the stock each needs for the same service.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay held-out demand through the replenishment policy, next to a static min/max policy.",
        discussion: """
            For every series the last --horizon periods are held out. "Bazaar (service)" is what the service computes
            for a cycle service level: the service-level quantile of demand over lead time + review period, read off
            the demand totals of every such span of the last year of training periods (the count distribution with
            the forecast rate for a history under about two months), as base stock for items that sell in most
            periods and as (s, S) with S = s + a review period's forecast demand for intermittent ones. The static
            policy is the common ERP rule: min = 1.5 x average lead-time demand of the training periods, max = min +
            average demand over a review period. All start full, review every --review-period periods, receive orders
            --lead-time periods later and lose unmet demand.

            One setting of each policy is one point on its trade-off between stock and service, so the command also
            sweeps each policy's knob (Bazaar's service level, the static rule's multiplier) and prints the average
            inventory each needs to reach fill rates of 90%, 95% and 98%, interpolated on its curve. Variants, for
            comparison: "lead-time thresholds" (the service's earlier rule: count-distribution quantiles of
            lead-time and lead-time + review demand), "periodic, fitted" (reorder point over lead time + review from
            the count distribution), "periodic, fill" (the same with a fill-rate target, --fill-rate), "fill-rate
            target" (what the service computes for a product with fill_rate set; the command also prints the fill
            rate each target of 80-98% achieved), "periodic, history" ((s, S) on the history's spans for every item)
            and "base stock, history" (base stock on them for every item). --frontier also prints the curves as
            CSV; --csv PATH writes them to a file.
            """)
    @OptionGroup var data: ForecastInput
    @Option(help: "Periods from order to receipt.") var leadTime = 2
    @Option(help: "Periods between reviews.") var reviewPeriod = 7
    @Option(help: "Target cycle service level.") var serviceLevel = 0.95
    @Option(help: "Target fill rate (share of demand served from stock) of the \"periodic, fill\" and \"fill-rate target\" policies.") var fillRate = 0.95
    @Option(help: "Order multiple.") var packSize = 1
    @Flag(help: "Also print every swept point of each policy as CSV (policy,setting,fill_rate,avg_inventory,stockout_periods,orders).")
    var frontier = false
    @Option(help: "Write every swept point of each policy to this CSV file (the --frontier columns).") var csv: String?

    func run() async throws {
        guard (0...3_650).contains(leadTime), (1...3_650).contains(reviewPeriod), (1...1_000_000_000).contains(packSize),
              serviceLevel > 0.5, serviceLevel < 1, fillRate > 0, fillRate < 1 else {
            throw ValidationError("need 0 <= --lead-time <= 3650, 1 <= --review-period <= 3650, 1 <= --pack-size <= 1000000000, 0.5 < --service-level < 1 and 0 < --fill-rate < 1")
        }
        let parameters = ReplenishmentParameters(leadTime: leadTime, reviewPeriod: reviewPeriod, packSize: packSize, serviceLevel: serviceLevel)
        let series = try data.load().filter { $0.values.count > data.horizon + 8 }
        let comparison = PolicyComparison(
            items: series.map { .init(history: Array($0.values.dropLast(data.horizon)), future: Array($0.values.suffix(data.horizon))) },
            season: data.season, parameters: parameters)
        print("Simulation: \(series.count) series, \(data.horizon) held-out periods, lead time \(leadTime), review every \(reviewPeriod), service level \(serviceLevel), fill-rate target \(fillRate)")
        printSettings(comparison)
        let curves = [("Bazaar (service)", comparison.serviceCurve()), ("lead-time thresholds", comparison.forecastCurve()),
                      ("periodic, fitted", comparison.periodicForecastCurve()), ("periodic, fill", comparison.periodicFillRateCurve()),
                      ("fill-rate target", comparison.fillRateTargetCurve()), ("periodic, history", comparison.periodicHistoryCurve()),
                      ("base stock, history", comparison.baseStockHistoryCurve()),
                      ("static min/max", comparison.staticCurve())]
        Self.printInventoryForFillRates(curves)
        printFillRateTargets(comparison)
        let table = Self.frontierCSV(curves)
        if frontier { print("\n" + table, terminator: "") }
        if let csv {
            do { try table.write(toFile: csv, atomically: true, encoding: .utf8) } catch {
                throw ValidationError("cannot write \(csv): \(error.localizedDescription)")
            }
            print("\nCurves written to \(csv) (\(curves.map(\.1.count).reduce(0, +)) points).")
        }
    }

    /// One line per policy at the settings given: fill rate, stock-out periods, average inventory, orders.
    func printSettings(_ comparison: PolicyComparison) {
        print("policy                        fill rate   stock-out periods   avg inventory   orders")
        let single = [("Bazaar (service)", comparison.servicePolicy(serviceLevel: serviceLevel)),
                      ("Bazaar, lead-time thresholds", comparison.forecastPolicy(serviceLevel: serviceLevel)),
                      ("Bazaar, periodic, fitted", comparison.periodicForecastPolicy(serviceLevel: serviceLevel)),
                      ("Bazaar, periodic, fill", comparison.periodicFillRatePolicy(fillRate: fillRate)),
                      ("Bazaar, fill-rate target", comparison.fillRateTargetPolicy(fillRate: fillRate)),
                      ("Bazaar, periodic, history", comparison.periodicHistoryPolicy(serviceLevel: serviceLevel)),
                      ("Bazaar, base stock, history", comparison.baseStockHistoryPolicy(serviceLevel: serviceLevel)),
                      ("static min/max", comparison.staticPolicy(multiplier: 1.5))]
        for (name, point) in single {
            print(name.padding(toLength: 30, withPad: " ", startingAt: 0)
                + String(format: "%8.1f%%", 100 * point.fillRate).padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(format: "%8d", point.stockOutPeriods).padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(format: "%10.1f", point.averageInventory).padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%6d", point.orders))
        }
    }

    /// The average inventory each policy needs for fill rates of 90%, 95% and 98% (read off its swept curve), and
    /// each next to the last policy's (static min/max), as a difference in percent.
    static func printInventoryForFillRates(_ curves: [(String, [PolicyComparison.Point])]) {
        print("\nAverage inventory needed for a fill rate (each policy swept over its knob, interpolated; - = not reached):")
        var header = "fill rate   " + curves.map { $0.0.padding(toLength: 22, withPad: " ", startingAt: 0) }.joined()
            + ["service/static", "lead/static", "fitted/static", "fill/static", "target/static", "history/static", "base/static"]
            .map { $0.padding(toLength: 19, withPad: " ", startingAt: 0) }.joined()
        while header.hasSuffix(" ") { header.removeLast() }
        print(header)
        for target in [0.90, 0.95, 0.98] {
            let inventories = curves.map { PolicyComparison.inventory(atFillRate: target, on: $0.1) }
            var line = String(format: "%5.0f%%      ", 100 * target)
            for value in inventories {
                line += (value.map { String(format: "%10.1f", $0) } ?? "         -").padding(toLength: 22, withPad: " ", startingAt: 0)
            }
            for candidate in inventories.dropLast() {
                if let a = candidate, let b = inventories.last!, b > 0 {
                    line += String(format: "%+7.1f%%", 100 * (a / b - 1)).padding(toLength: 19, withPad: " ", startingAt: 0)
                } else {
                    line += "      -            "
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            print(line)
        }
    }

    /// The service's fill-rate target: what each target achieved on the held-out demand.
    func printFillRateTargets(_ comparison: PolicyComparison) {
        print("\nFill-rate target (the service's thresholds with fill_rate set): achieved against asked")
        print("target   achieved   avg inventory   orders")
        for target in [0.80, 0.90, 0.95, 0.98] {
            let point = comparison.fillRateTargetPolicy(fillRate: target)
            print(String(format: "%5.0f%%    %6.1f%%   %13.1f   %6d", 100 * target, 100 * point.fillRate, point.averageInventory, point.orders))
        }
    }

    /// Every swept point of each policy, as CSV (`--frontier`, `--csv`).
    static func frontierCSV(_ curves: [(String, [PolicyComparison.Point])]) -> String {
        var table = "policy,setting,fill_rate,avg_inventory,stockout_periods,orders\n"
        for (name, curve) in curves {
            for p in curve {
                table += "\(name),\(p.setting),\(String(format: "%.4f", p.fillRate)),\(String(format: "%.2f", p.averageInventory)),\(p.stockOutPeriods),\(p.orders)\n"
            }
        }
        return table
    }
}
