/// A store (branch) of the chain.
public struct Store: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    /// Free-form attributes (region, city, format...) as a JSON object text.
    public var attributesJSON: String
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64

    public init(id: String, name: String, attributesJSON: String = "{}", createdAtMillis: Int64, updatedAtMillis: Int64) {
        self.id = id
        self.name = name
        self.attributesJSON = attributesJSON
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
    }
}

/// A product, with the replenishment parameters the stock intelligence uses.
public struct Product: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var attributesJSON: String
    /// Days from placing an order to receiving it.
    public var leadTimeDays: Int
    /// Days between two orders.
    public var reviewPeriodDays: Int
    /// Orders are rounded up to a multiple of this.
    public var packSize: Int
    /// Target probability of not running out during a replenishment cycle (the cycle service level): the target
    /// the thresholds use unless `fillRate` is set.
    public var serviceLevel: Double
    /// Target share of demand served from stock (the fill rate): when set, the thresholds are sized for it instead
    /// of `serviceLevel` (see `ReplenishmentTarget`).
    public var fillRate: Double?
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64

    public static let defaultLeadTimeDays = 7
    public static let defaultReviewPeriodDays = 7
    public static let defaultPackSize = 1
    public static let defaultServiceLevel = 0.95

    public init(
        id: String, name: String, attributesJSON: String = "{}", leadTimeDays: Int = Self.defaultLeadTimeDays,
        reviewPeriodDays: Int = Self.defaultReviewPeriodDays, packSize: Int = Self.defaultPackSize,
        serviceLevel: Double = Self.defaultServiceLevel, fillRate: Double? = nil, createdAtMillis: Int64, updatedAtMillis: Int64
    ) {
        self.id = id
        self.name = name
        self.attributesJSON = attributesJSON
        self.leadTimeDays = leadTimeDays
        self.reviewPeriodDays = reviewPeriodDays
        self.packSize = packSize
        self.serviceLevel = serviceLevel
        self.fillRate = fillRate
        self.createdAtMillis = createdAtMillis
        self.updatedAtMillis = updatedAtMillis
    }

    /// The target the thresholds are sized for: the fill rate when set, else the cycle service level.
    public var target: ReplenishmentTarget { fillRate.map(ReplenishmentTarget.fillRate) ?? .serviceLevel(serviceLevel) }
}

/// What a store x product's thresholds aim at; exactly one is in force.
///
/// - `serviceLevel`: the probability of not running out within a replenishment cycle. A share of cycles: a slow
///   mover and a fast one get the same chance of a stock-out per cycle, whatever the units it loses.
/// - `fillRate`: the share of demand served from stock, what a retailer's lost sales are. The thresholds become a
///   base-stock level sized so that the expected units short per review cycle are (1 - fill rate) x a review
///   period's demand (`FillRateSizing` in BazaarForecasting).
public enum ReplenishmentTarget: Sendable, Equatable {
    case serviceLevel(Double)
    case fillRate(Double)

    /// The contract's name of the target: `service_level` or `fill_rate`.
    public var name: String {
        switch self {
        case .serviceLevel: "service_level"
        case .fillRate: "fill_rate"
        }
    }

    public var value: Double {
        switch self {
        case .serviceLevel(let v), .fillRate(let v): v
        }
    }
}

public enum CatalogRules {
    public static let maxNameLength = 200
    public static let maxAttributesBytes = 16 * 1024

    public static func validateName(_ name: String, field: String = "name") throws(DomainError) {
        let trimmed = name.trimmingSpaces
        // Unicode scalars, as the contract's maxLength counts them (a Character can hold several).
        guard !trimmed.isEmpty, name.unicodeScalars.count <= maxNameLength else {
            throw .invalid(field: field, message: "must be 1-\(maxNameLength) characters, not blank")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field: field, message: "must not contain control characters")
        }
    }

    public static func validateReplenishment(leadTimeDays: Int, reviewPeriodDays: Int, packSize: Int, serviceLevel: Double) throws(DomainError) {
        guard (0...365).contains(leadTimeDays) else { throw .invalid(field: "lead_time_days", message: "must be an integer from 0 to 365") }
        guard (1...365).contains(reviewPeriodDays) else { throw .invalid(field: "review_period_days", message: "must be an integer from 1 to 365") }
        guard (1...1_000_000).contains(packSize) else { throw .invalid(field: "pack_size", message: "must be an integer from 1 to 1000000") }
        guard serviceLevel >= 0.5, serviceLevel <= 0.999 else { throw .invalid(field: "service_level", message: "must be a number from 0.5 to 0.999") }
    }

    /// A fill-rate target: a share of demand from 0.5 to 0.999 (1 would need unbounded stock; NaN fails both bounds).
    public static func validateFillRate(_ fillRate: Double?) throws(DomainError) {
        guard let fillRate else { return }
        guard fillRate >= 0.5, fillRate <= 0.999 else { throw .invalid(field: "fill_rate", message: "must be a number from 0.5 to 0.999") }
    }

    /// One request sets at most one target: a body with both `service_level` and `fill_rate` is ambiguous.
    public static func validateOneTarget(serviceLevel: Double?, fillRate: Double?) throws(DomainError) {
        guard serviceLevel == nil || fillRate == nil else {
            throw .invalid(field: "fill_rate", message: "send either service_level (a cycle service level) or fill_rate (a share of demand), not both")
        }
        try validateFillRate(fillRate)
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}

/// A store's own replenishment parameters for one product; nil fields fall back to the product's. At most one of
/// `serviceLevel` and `fillRate` is set: the store's target, which replaces the product's whichever kind it is.
public struct ReplenishmentOverride: Sendable, Equatable {
    public var leadTimeDays: Int?
    public var reviewPeriodDays: Int?
    public var packSize: Int?
    public var serviceLevel: Double?
    public var fillRate: Double?

    public init(leadTimeDays: Int? = nil, reviewPeriodDays: Int? = nil, packSize: Int? = nil, serviceLevel: Double? = nil,
                fillRate: Double? = nil) {
        self.leadTimeDays = leadTimeDays
        self.reviewPeriodDays = reviewPeriodDays
        self.packSize = packSize
        self.serviceLevel = serviceLevel
        self.fillRate = fillRate
    }

    /// The product's parameters with this store's overrides applied. A store's target replaces the product's
    /// whole: a store service level over a product fill rate puts the service level in force, and the reverse.
    public func applied(to product: Product) -> Product {
        var p = product
        p.leadTimeDays = leadTimeDays ?? p.leadTimeDays
        p.reviewPeriodDays = reviewPeriodDays ?? p.reviewPeriodDays
        p.packSize = packSize ?? p.packSize
        if let fillRate {
            p.fillRate = fillRate
        } else if let serviceLevel {
            p.serviceLevel = serviceLevel
            p.fillRate = nil
        }
        return p
    }
}
