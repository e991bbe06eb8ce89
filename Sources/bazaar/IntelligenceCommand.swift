import ArgumentParser
import BazaarApp
import BazaarCore
import BazaarDomain
import BazaarForecasting
import Foundation
import Logging

/// `bazaar intelligence recompute`: one walk of the recompute pass over the whole chain, now, with its speed:
/// how a deployment measures pairs evaluated per second and the time to a full pass (bench/scale.sh uses it).
struct IntelligenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intelligence", abstract: "Stock intelligence at chain scale.", subcommands: [Recompute.self])

    struct Recompute: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute thresholds store by store from the daily demand rows and report pairs per second.",
            discussion: """
                Without --all, only the items that are due (as the pass of `serve` does); with --all, every store x product. \
                Stores leased by a running node are skipped. --legacy N first times the path before issue 14 (each pair's \
                180 days of ledger, the automatic forecast for every pair) on N pairs, for comparison.
                """)
        @OptionGroup var options: ConfigurationOptions
        @Flag(help: "Every store x product, not only those due.") var all = false
        @Option(help: "Concurrent walkers (each takes stores by lease; one core each at most).") var workers = 1
        @Option(help: "Also time the ledger-reading path on this many pairs first (0: not).") var legacy = 0

        func run() async throws {
            guard (1...64).contains(workers) else { throw ValidationError("--workers must be from 1 to 64") }
            guard legacy >= 0 else { throw ValidationError("--legacy must be 0 or more") }
            try await options.run { configuration in
                var configuration = configuration
                configuration.kafkaBrokers = nil  // a walk needs the database only
                let system = try await BazaarSystem.start(configuration: configuration, logger: Logger(label: "bazaar"))
                if legacy > 0 {
                    let (pairs, seconds) = try await Self.legacyPath(system, pairs: legacy)
                    print(String(format: "ledger path (before issue 14): %d pairs in %.2f s: %.0f pairs/s", pairs, seconds, Double(pairs) / max(seconds, 1e-9)))
                }
                let clock = ContinuousClock()
                let start = clock.now
                // --all: every pair computed before now, once between the walkers.
                let computedBefore: Int64? = all ? system.intelligence.clock.nowMillis() + 1 : nil
                let walks = try await withThrowingTaskGroup(of: IntelligencePass.Walk.self) { group in
                    for worker in 0..<workers {
                        let pass = IntelligencePass(intelligence: system.intelligence, logger: Logger(label: "bazaar"),
                                                    holder: "cli-\(ProcessInfo.processInfo.processIdentifier)-\(worker)")
                        group.addTask { try await pass.walkOnce(computedBefore: computedBefore) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let elapsed = start.duration(to: clock.now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let evaluated = walks.map(\.evaluated).reduce(0, +), automatic = walks.map(\.automatic).reduce(0, +)
                print(String(format: "recompute pass: %d stores, %d pairs evaluated (%d with the automatic choice) in %.2f s: %.0f pairs/s with %d worker(s)",
                             walks.first?.stores ?? 0, evaluated, automatic, seconds, Double(evaluated) / max(seconds, 1e-9), workers))
                try await system.store.close()
            }
        }

        /// The path before the daily demand rows: each pair's ledger since 180 days, its parameters, the automatic
        /// forecast, the thresholds saved.
        static func legacyPath(_ system: BazaarSystem, pairs: Int) async throws -> (Int, Double) {
            let store = system.store
            var keys: [(String, String)] = []
            var after: String?
            outer: while true {
                let stores = try await system.intelligence.demandStoreIDs(after: after)
                for storeID in stores {
                    for item in try await system.intelligence.dueItems(storeID: storeID, computedBefore: .max) {
                        keys.append((storeID, item.productID))
                        if keys.count >= pairs { break outer }
                    }
                }
                guard let last = stores.last else { break }
                after = last
            }
            let clock = ContinuousClock()
            let start = clock.now
            let now = Int64(Date().timeIntervalSince1970 * 1000), today = RFC3339.epochDay(millis: now)
            for (storeID, productID) in keys {
                let movements = try await store.movements(storeID: storeID, productID: productID, sinceMillis: (today - IntelligenceService.historyDays) * 86_400_000)
                let firstDay = movements.map { RFC3339.epochDay(millis: $0.atMillis) }.min() ?? today
                let (sold, censored) = DemandHistory.daily(movements, firstDay: firstDay, lastDay: today - 1)
                let history = zip(sold, censored).filter { !$0.1 }.map(\.0)
                let product = try await system.intelligence.effectiveProduct(storeID: storeID, productID: productID)
                let parameters = ReplenishmentParameters(leadTime: product?.leadTimeDays ?? Product.defaultLeadTimeDays,
                                                         reviewPeriod: product?.reviewPeriodDays ?? Product.defaultReviewPeriodDays)
                let fit = history.isEmpty ? nil : AutoForecaster(season: IntelligenceService.season).forecast(history, horizon: 1)
                let t = Thresholds(rate: fit?.point[0] ?? 0, dispersion: Thresholds.dispersion(history), parameters: parameters)
                try await store.saveThresholds(StockThresholds(dailyRate: t.rate, reorderPoint: t.reorderPoint, orderUpTo: t.orderUpTo,
                                                               leadTimeDays: parameters.leadTime, anomalyAbove: 0, historyDays: history.count,
                                                               computedAtMillis: 0, model: fit?.model),
                                               storeID: storeID, productID: productID)
            }
            let elapsed = start.duration(to: clock.now)
            return (keys.count, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
    }
}
