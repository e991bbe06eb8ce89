import BazaarCore
import BazaarDomain
import Foundation
import Hummingbird
import NIOCore

/// Typed answers: every answer shape off the hot paths is an `Encodable` struct here, encoded by the one encoder
/// configured below. Hand-rendered JSON is kept only where it was measured to matter (`/get-stock`, `/update-stock`,
/// the movement events and the pages of movements that reuse their renderings), each with a test that it equals a
/// typed encoding (`TypedAnswerTests`).
///
/// Keys are spelled out in `CodingKeys` rather than converted by the encoder: a key strategy would also rewrite the
/// keys of free-form `attributes` objects, which are the caller's data.
enum Answer {
    /// Slashes unescaped (URLs and problem types read as sent); keys sorted, so that every node answers the same
    /// bytes for the same value (this toolchain's encoder otherwise writes keys in a per-process hash order).
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }

    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try encoder().encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// 201 for what a request made, 200 with `Idempotent-Replayed: true` for a retry answered from its first time.
    static func made<T: Encodable>(_ value: T, replayed: Bool) throws -> Response {
        try make(value, status: replayed ? .ok : .created, headers: replayed ? [.idempotentReplayed: "true"] : [:])
    }

    /// `{"items": [...], "next_cursor": ...}` from rows read with `limit + 1` (the extra row only tells that there is
    /// a next page).
    static func page<Row, Item: Encodable>(_ rows: [Row], limit: Int, item: (Row) throws -> Item, cursor: (Row) -> String) throws -> Response {
        let (items, next) = JSONResponse.trimmed(rows, limit: limit, cursor: cursor)
        return try make(Page(items: try items.map(item), nextCursor: next))
    }

    struct Page<Item: Encodable>: Encodable {
        var items: [Item]
        /// null on the last page (encoded, not left out: clients test it).
        var nextCursor: String?

        enum CodingKeys: String, CodingKey { case items, nextCursor = "next_cursor" }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(items, forKey: .items)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
    }

    /// A stored attributes object (canonical JSON text) as a value to encode.
    static func attributes(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}

/// A store (`/v1/stores`).
struct StoreAnswer: Encodable {
    var id: String
    var name: String
    var attributes: JSONValue
    var createdAt: String
    var updatedAt: String

    enum CodingKeys: String, CodingKey { case id, name, attributes, createdAt = "created_at", updatedAt = "updated_at" }

    init(_ s: Store) throws {
        id = s.id
        name = s.name
        attributes = try Answer.attributes(s.attributesJSON)
        createdAt = RFC3339.format(millis: s.createdAtMillis)
        updatedAt = RFC3339.format(millis: s.updatedAtMillis)
    }
}

/// A product with its replenishment parameters (`/v1/products`).
struct ProductAnswer: Encodable {
    var id: String
    var name: String
    var attributes: JSONValue
    var leadTimeDays: Int
    var reviewPeriodDays: Int
    var packSize: Int
    var serviceLevel: Double
    /// The fill-rate target; when set it, not `serviceLevel`, sizes the thresholds (`target`).
    var fillRate: Double?
    var target: String
    var createdAt: String
    var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, attributes, leadTimeDays = "lead_time_days", reviewPeriodDays = "review_period_days", packSize = "pack_size"
        case serviceLevel = "service_level", fillRate = "fill_rate", target, createdAt = "created_at", updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(attributes, forKey: .attributes)
        try c.encode(leadTimeDays, forKey: .leadTimeDays)
        try c.encode(reviewPeriodDays, forKey: .reviewPeriodDays)
        try c.encode(packSize, forKey: .packSize)
        try c.encode(serviceLevel, forKey: .serviceLevel)
        try c.encode(fillRate, forKey: .fillRate)  // null when the service level is in force
        try c.encode(target, forKey: .target)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }

    init(_ p: Product) throws {
        id = p.id
        name = p.name
        attributes = try Answer.attributes(p.attributesJSON)
        leadTimeDays = p.leadTimeDays
        reviewPeriodDays = p.reviewPeriodDays
        packSize = p.packSize
        serviceLevel = p.serviceLevel
        fillRate = p.fillRate
        target = p.target.name
        createdAt = RFC3339.format(millis: p.createdAtMillis)
        updatedAt = RFC3339.format(millis: p.updatedAtMillis)
    }
}

/// The replenishment parameters in force for one store x product, and which of them the store overrides (null: the
/// product's own). `target` names the target in force, `service_level` or `fill_rate` (then `fill_rate` is its
/// value; otherwise `fill_rate` is null and `service_level` is in force).
struct ReplenishmentSettingsAnswer: Encodable {
    var storeID: String
    var productID: String
    var effective: Product
    var overrides: ReplenishmentOverride

    enum CodingKeys: String, CodingKey {
        case storeID = "store_id", productID = "product_id", leadTimeDays = "lead_time_days", reviewPeriodDays = "review_period_days"
        case packSize = "pack_size", serviceLevel = "service_level", fillRate = "fill_rate", target, overrides
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(storeID, forKey: .storeID)
        try c.encode(productID, forKey: .productID)
        try c.encode(effective.leadTimeDays, forKey: .leadTimeDays)
        try c.encode(effective.reviewPeriodDays, forKey: .reviewPeriodDays)
        try c.encode(effective.packSize, forKey: .packSize)
        try c.encode(effective.serviceLevel, forKey: .serviceLevel)
        try c.encode(effective.fillRate, forKey: .fillRate)
        try c.encode(effective.target.name, forKey: .target)
        var o = c.nestedContainer(keyedBy: CodingKeys.self, forKey: .overrides)
        try o.encode(overrides.leadTimeDays, forKey: .leadTimeDays)
        try o.encode(overrides.reviewPeriodDays, forKey: .reviewPeriodDays)
        try o.encode(overrides.packSize, forKey: .packSize)
        try o.encode(overrides.serviceLevel, forKey: .serviceLevel)
        try o.encode(overrides.fillRate, forKey: .fillRate)
    }
}

/// A store of the chain overview: what needs action, and its demand trend.
struct StoreOverviewAnswer: Encodable {
    var storeID: String
    var name: String
    var attributes: JSONValue
    var counts: StoreCounts
    var trend: Trend

    /// Units sold net of returns a day, oldest first from `start` (a date) to today.
    struct Trend: Encodable {
        var start: String
        var units: [Int64]
    }

    enum CodingKeys: String, CodingKey {
        case storeID = "store_id", name, attributes, items, stockOuts = "stock_outs", atRisk = "at_risk"
        case withoutThresholds = "without_thresholds", openAlerts = "open_alerts", acknowledgedAlerts = "acknowledged_alerts", trend
    }

    init(_ overview: StoreOverview, trend: Trend) throws {
        storeID = overview.store.id
        name = overview.store.name
        attributes = try Answer.attributes(overview.store.attributesJSON)
        counts = overview.counts
        self.trend = trend
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(storeID, forKey: .storeID)
        try c.encode(name, forKey: .name)
        try c.encode(attributes, forKey: .attributes)
        try c.encode(counts.items, forKey: .items)
        try c.encode(counts.stockOuts, forKey: .stockOuts)
        try c.encode(counts.atRisk, forKey: .atRisk)
        try c.encode(counts.withoutThresholds, forKey: .withoutThresholds)
        try c.encode(counts.openAlerts, forKey: .openAlerts)
        try c.encode(counts.acknowledgedAlerts, forKey: .acknowledgedAlerts)
        try c.encode(trend, forKey: .trend)
    }
}
