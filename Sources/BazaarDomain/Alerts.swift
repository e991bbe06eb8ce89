/// What an alert is about. Level conditions open and resolve themselves as the level moves; the rest are
/// events that stay until a person deals with them.
public enum AlertKind: String, Sendable, CaseIterable, Codable {
    case lowStock = "low_stock"
    case stockOutRisk = "stock_out_risk"
    case stockOut = "stock_out"
    case negativeStock = "negative_stock"
    case overstock
    case demandAnomaly = "demand_anomaly"
    case shrinkage
    /// A fact (sale, return, receipt, count) took `available` below zero: more is reserved than is on hand.
    case overReserved = "over_reserved"

    /// Level conditions resolve themselves when the condition clears.
    public var isLevelCondition: Bool {
        switch self {
        case .lowStock, .stockOutRisk, .stockOut, .negativeStock, .overstock: true
        case .demandAnomaly, .shrinkage, .overReserved: false
        }
    }
}

public enum AlertStatus: String, Sendable, Codable, CaseIterable {
    case open, acknowledged, resolved
}

/// The dynamic thresholds of one store x product, as last computed from its demand.
public struct StockThresholds: Sendable, Equatable {
    /// Expected units sold per day.
    public var dailyRate: Double
    public var reorderPoint: Double
    public var orderUpTo: Double
    public var leadTimeDays: Int
    /// Daily units above which one day's sales are anomalous (a high quantile of daily demand).
    public var anomalyAbove: Double
    /// Days of (uncensored) demand history the thresholds were computed from.
    public var historyDays: Int
    public var computedAtMillis: Int64
    /// The forecast the engine fitted for `dailyRate`, kept so that reads (`GET .../forecast`) answer it instead of
    /// fitting again: the method the automatic choice picked, the demand class, the days left out as stock-outs, the
    /// variance-to-mean ratio the quantiles used, and the 90% interval of one day's demand. nil in rows written before
    /// they were kept (the next recomputation fills them).
    public var model: String?
    public var demandClass: String?
    public var censoredDays: Int
    public var dispersion: Double?
    public var dailyLow: Double?
    public var dailyHigh: Double?
    /// The target these thresholds were sized for (nil in rows written before targets were kept: a cycle service
    /// level then).
    public var target: ReplenishmentTarget?
    /// Below this the shelf is low (`low_stock`, the overview's `at_risk`): the target's quantile of demand over the
    /// lead time alone, what an order placed now must outlast. Kept apart from `reorderPoint`, which says when to
    /// order: a store that orders at its reviews orders a fast mover at every review (base stock, `reorderPoint` one
    /// below `orderUpTo`), and an alert at every sale after a delivery would say nothing. nil in rows written before
    /// it was kept: `alertLevel` is then the reorder point.
    public var lowStockLevel: Double?
    /// The review period these thresholds were sized for (the order-up-to level covers lead time and review period);
    /// nil in rows written before it was kept.
    public var reviewPeriodDays: Int?
    /// The level `low_stock` and `at_risk` compare the position with.
    public var alertLevel: Double { lowStockLevel ?? reorderPoint }

    public init(dailyRate: Double, reorderPoint: Double, orderUpTo: Double, leadTimeDays: Int, anomalyAbove: Double,
                historyDays: Int = 0, computedAtMillis: Int64, model: String? = nil, demandClass: String? = nil, censoredDays: Int = 0,
                dispersion: Double? = nil, dailyLow: Double? = nil, dailyHigh: Double? = nil, target: ReplenishmentTarget? = nil,
                lowStockLevel: Double? = nil, reviewPeriodDays: Int? = nil) {
        self.dailyRate = dailyRate
        self.reorderPoint = reorderPoint
        self.orderUpTo = orderUpTo
        self.leadTimeDays = leadTimeDays
        self.anomalyAbove = anomalyAbove
        self.historyDays = historyDays
        self.computedAtMillis = computedAtMillis
        self.model = model
        self.demandClass = demandClass
        self.censoredDays = censoredDays
        self.dispersion = dispersion
        self.dailyLow = dailyLow
        self.dailyHigh = dailyHigh
        self.target = target
        self.lowStockLevel = lowStockLevel
        self.reviewPeriodDays = reviewPeriodDays
    }

    /// The stored form of `target`: (service level, fill rate), at most one set.
    public var targetColumns: (serviceLevel: Double?, fillRate: Double?) {
        switch target {
        case .serviceLevel(let v): (v, nil)
        case .fillRate(let v): (nil, v)
        case nil: (nil, nil)
        }
    }

    /// `target` from its stored form.
    public static func target(serviceLevel: Double?, fillRate: Double?) -> ReplenishmentTarget? {
        fillRate.map(ReplenishmentTarget.fillRate) ?? serviceLevel.map(ReplenishmentTarget.serviceLevel)
    }

    public func daysOfCover(_ quantity: Int64) -> Double? { dailyRate > 0 ? Double(max(0, quantity)) / dailyRate : nil }
}

/// Which level conditions hold for a quantity (pure; the intelligence service opens and resolves alerts from it).
public enum AlertRules {
    /// Days of cover beyond which stock above the order-up-to level counts as overstock.
    public static let overstockDaysOfCover = 60.0
    /// Overstock needs this much demand history: a new item with no sales yet is not dead stock.
    public static let overstockMinimumHistoryDays = 28

    /// `position` is the inventory position (on hand + incoming - reserved), when it differs from `quantity`: the
    /// reorder conditions (`low_stock`, `stock_out_risk`) compare it, not the shelf, so goods already on their way do
    /// not raise them and stock promised to customers does; the shelf's own conditions (`stock_out`,
    /// `negative_stock`, `overstock`) stay on hand.
    public static func levelConditions(quantity: Int64, thresholds t: StockThresholds, position: Int64? = nil) -> Set<AlertKind> {
        if quantity < 0 { return [.negativeStock] }
        if quantity == 0 { return t.dailyRate > 0 || t.reorderPoint > 0 ? [.stockOut] : [] }
        var conditions = Set<AlertKind>()
        let position = position ?? quantity
        if Double(position) <= t.alertLevel { conditions.insert(.lowStock) }
        if let cover = t.daysOfCover(position), cover < Double(t.leadTimeDays) { conditions.insert(.stockOutRisk) }
        if t.historyDays >= overstockMinimumHistoryDays, Double(quantity) > t.orderUpTo,
            (t.daysOfCover(quantity) ?? .infinity) > overstockDaysOfCover
        {
            conditions.insert(.overstock)
        }
        return conditions
    }

    /// Event alerts raised by one movement: a day's sale far above expected demand, or a count that finds
    /// noticeably less than the ledger expected (more than 2 units and 5%).
    public static func eventConditions(_ m: Movement, thresholds t: StockThresholds) -> Set<AlertKind> {
        var conditions = Set<AlertKind>()
        if m.reason == .sale, Double(-m.delta) > t.anomalyAbove { conditions.insert(.demandAnomaly) }
        if m.reason == .count, m.delta < -2, Double(-m.delta) > 0.05 * Double(max(1, m.quantityBefore)) { conditions.insert(.shrinkage) }
        return conditions
    }

    public static func message(_ kind: AlertKind, quantity: Int64, thresholds t: StockThresholds) -> String {
        let low = Int(min(9e15, max(0, t.alertLevel)).rounded(.up))
        switch kind {
        case .lowStock: return "\(quantity) on hand, at or below the low-stock level of \(low)"
        case .stockOutRisk:
            return "\(quantity) on hand covers \(String(Int((t.daysOfCover(quantity) ?? 0).rounded(.down)))) days; a delivery takes \(t.leadTimeDays)"
        case .stockOut: return "out of stock"
        case .negativeStock: return "the ledger shows \(quantity): a sale or count was recorded without stock; count the shelf"
        case .overstock: return "\(quantity) on hand, above the order-up-to level of \(Int(t.orderUpTo.rounded(.up))) and over \(Int(overstockDaysOfCover)) days of cover"
        case .demandAnomaly: return "a sale far above the expected daily demand of \(t.dailyRate)"
        case .shrinkage: return "a count found less stock than the ledger expected"
        case .overReserved: return "\(quantity) on hand is less than what active reservations hold: release or fulfil reservations, or restock"
        }
    }
}

/// Units sold per day from the ledger (sales minus returns, floored at zero), with the days the item was out of
/// stock all day (none at the start, none after any movement) marked censored: a zero there is no evidence of
/// zero demand.
///
/// A movement counts on the day it happened (`at`), in ledger order within the day: a backdated movement (an
/// `occurred_at` before movements already recorded) is taken in the order of days, so the history is a function of
/// each day's movements and `DemandDay` rows kept beside the ledger give exactly the same (`daily(days:...)`).
public enum DemandHistory {
    /// `movements` of one store x product in ledger order; days from `firstDay` to `lastDay` inclusive (epoch days).
    public static func daily(_ movements: [Movement], firstDay: Int64, lastDay: Int64) -> (sold: [Double], censored: [Bool]) {
        guard lastDay >= firstDay else { return ([], []) }
        let inDayOrder = zip(movements, movements.dropFirst()).allSatisfy { RFC3339.epochDay(millis: $0.atMillis) <= RFC3339.epochDay(millis: $1.atMillis) }
        let movements = inDayOrder ? movements
            : movements.enumerated().sorted { (RFC3339.epochDay(millis: $0.element.atMillis), $0.offset) < (RFC3339.epochDay(millis: $1.element.atMillis), $1.offset) }.map(\.element)
        let count = Int(lastDay - firstDay + 1)
        var sold = [Double](repeating: 0, count: count)
        // Whether there was stock at some point of the day (at its start, or after any movement that day).
        var available = [Bool](repeating: false, count: count)
        var startLevel = [Int64?](repeating: nil, count: count)
        var levelBefore: Int64 = 0
        var cursorDay = firstDay
        for m in movements {
            let day = RFC3339.epochDay(millis: m.atMillis)
            // Days with no movement keep the level of the day before.
            while cursorDay < min(day, lastDay + 1) {
                if cursorDay >= firstDay, startLevel[Int(cursorDay - firstDay)] == nil { startLevel[Int(cursorDay - firstDay)] = levelBefore }
                cursorDay += 1
            }
            if day >= firstDay, day <= lastDay {
                let i = Int(day - firstDay)
                if startLevel[i] == nil { startLevel[i] = m.quantityBefore }
                if m.quantityBefore > 0 || m.quantityAfter > 0 { available[i] = true }
                if m.reason == .sale { sold[i] += Double(-m.delta) }
                if m.reason == .return { sold[i] -= Double(m.delta) }
            }
            levelBefore = m.quantityAfter
        }
        while cursorDay <= lastDay {
            if cursorDay >= firstDay, startLevel[Int(cursorDay - firstDay)] == nil { startLevel[Int(cursorDay - firstDay)] = levelBefore }
            cursorDay += 1
        }
        let censored = (0..<count).map { i in sold[i] <= 0 && !available[i] && (startLevel[i] ?? 0) <= 0 }
        return (sold.map { max(0, $0) }, censored)
    }
}

/// One alert: a condition of one store x product, from opening to resolution.
public struct Alert: Sendable, Equatable {
    public var sequence: Int64
    public var id: String
    public var kind: AlertKind
    public var status: AlertStatus
    public var storeID: String
    public var productID: String
    /// The level when the alert last changed.
    public var quantity: Int64
    /// The threshold it was measured against (reorder point, order-up-to level...), if any.
    public var threshold: Double?
    public var message: String
    public var openedAtMillis: Int64
    public var acknowledgedAtMillis: Int64?
    public var acknowledgedBy: String?
    public var resolvedAtMillis: Int64?

    public init(sequence: Int64 = 0, id: String, kind: AlertKind, status: AlertStatus, storeID: String, productID: String, quantity: Int64,
                threshold: Double?, message: String, openedAtMillis: Int64, acknowledgedAtMillis: Int64? = nil,
                acknowledgedBy: String? = nil, resolvedAtMillis: Int64? = nil) {
        self.sequence = sequence
        self.id = id
        self.kind = kind
        self.status = status
        self.storeID = storeID
        self.productID = productID
        self.quantity = quantity
        self.threshold = threshold
        self.message = message
        self.openedAtMillis = openedAtMillis
        self.acknowledgedAtMillis = acknowledgedAtMillis
        self.acknowledgedBy = acknowledgedBy
        self.resolvedAtMillis = resolvedAtMillis
    }

    /// When it last changed.
    public var atMillis: Int64 { resolvedAtMillis ?? acknowledgedAtMillis ?? openedAtMillis }

    public var json: String {
        func time(_ millis: Int64?) -> String { millis.map { "\"\(RFC3339.format(millis: $0))\"" } ?? "null" }
        return """
            {"alert_id":\(JSON.quoted(id)),"kind":"\(kind.rawValue)","status":"\(status.rawValue)","store_id":\(JSON.quoted(storeID)),\
            "product_id":\(JSON.quoted(productID)),"quantity":\(quantity),"threshold":\(threshold.map { "\($0)" } ?? "null"),\
            "message":\(JSON.quoted(message)),"opened_at":\(time(openedAtMillis)),"acknowledged_at":\(time(acknowledgedAtMillis)),\
            "acknowledged_by":\(JSON.quotedOrNull(acknowledgedBy)),"resolved_at":\(time(resolvedAtMillis)),"at":\(time(atMillis))}
            """
    }

    /// CloudEvent for `bazaar.stock-alerts`: one per change of status, so its id is the alert id and the status.
    public var cloudEventJSON: String {
        """
        {"specversion":"1.0","type":"\(AlertEvent.type)","source":\(JSON.quoted("/stores/" + storeID)),"id":\(JSON.quoted(id + ":" + status.rawValue)),\
        "time":"\(RFC3339.format(millis: atMillis))","subject":\(JSON.quoted("/products/" + productID)),"datacontenttype":"application/json",\
        "data":\(json)}
        """
    }
}

public enum AlertEvent {
    public static let type = "bazaar.stock.alert"
    public static let topic = "bazaar.stock-alerts"
}
