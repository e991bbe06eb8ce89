import ArgumentParser
import BazaarForecasting
import Foundation

/// `bazaar simulate`: replays each series' held-out demand through Bazaar's forecast-driven thresholds and
/// through a static min/max rule, and compares service and stock.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay held-out demand through the replenishment policy, next to a static min/max policy.",
        discussion: """
            For every series the last --horizon periods are held out. Bazaar's policy sets its reorder point and
            order-up-to level from the forecast of the training periods (service-level quantiles of lead-time and
            lead-time + review demand). The static policy is the common ERP rule: min = 1.5 x average lead-time
            demand of the training periods, max = min + average demand over a review period. Both start full, review
            every --review-period periods, receive orders --lead-time periods later and lose unmet demand.
            """)
    @OptionGroup var data: ForecastInput
    @Option(help: "Periods from order to receipt.") var leadTime = 2
    @Option(help: "Periods between reviews.") var reviewPeriod = 7
    @Option(help: "Target cycle service level.") var serviceLevel = 0.95
    @Option(help: "Order multiple.") var packSize = 1

    func run() async throws {
        guard leadTime >= 0, reviewPeriod >= 1, packSize >= 1, serviceLevel > 0.5, serviceLevel < 1 else {
            throw ValidationError("need --lead-time >= 0, --review-period >= 1, --pack-size >= 1 and 0.5 < --service-level < 1")
        }
        let parameters = ReplenishmentParameters(leadTime: leadTime, reviewPeriod: reviewPeriod, packSize: packSize, serviceLevel: serviceLevel)
        let series = try data.load().filter { $0.values.count > data.horizon + 8 }
        var dynamic: [InventorySimulation.Result] = [], fixed: [InventorySimulation.Result] = []
        for s in series {
            let train = Array(s.values.dropLast(data.horizon)), future = Array(s.values.suffix(data.horizon))
            let thresholds = Thresholds.from(history: train, season: data.season, parameters: parameters)
            dynamic.append(InventorySimulation.run(demand: future, reorderPoint: thresholds.reorderPoint, orderUpTo: thresholds.orderUpTo,
                                                   parameters: parameters, initialStock: thresholds.orderUpTo))
            let mean = train.reduce(0, +) / Double(train.count)
            let low = (1.5 * mean * Double(leadTime)).rounded(.up)
            let high = max(low, (low + mean * Double(reviewPeriod)).rounded(.up))
            fixed.append(InventorySimulation.run(demand: future, reorderPoint: low, orderUpTo: high, parameters: parameters, initialStock: high))
        }
        print("Simulation: \(series.count) series, \(data.horizon) held-out periods, lead time \(leadTime), review every \(reviewPeriod), service level \(serviceLevel)")
        print("policy              fill rate   stock-out periods   avg inventory   orders")
        for (name, results) in [("Bazaar (forecast)", dynamic), ("static min/max", fixed)] {
            let demand = results.map(\.demand).reduce(0, +), served = results.map(\.served).reduce(0, +)
            let stockOuts = results.map(\.stockOutPeriods).reduce(0, +)
            let inventory = results.map(\.averageInventory).reduce(0, +) / Double(max(1, results.count))
            let orders = results.map(\.orders).reduce(0, +)
            print(name.padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(format: "%8.1f%%", 100 * (demand > 0 ? served / demand : 1)).padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(format: "%8d", stockOuts).padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(format: "%10.1f", inventory).padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%6d", orders))
        }
    }
}
