public import BazaarDomain
import Foundation

/// The fields of one movement in a request body.
public struct MovementBody: Decodable, Sendable {
    public static let fields: Set<String> = ["delta", "quantity", "reason", "reference", "expected_version", "occurred_at"]
    public static let batchFields = fields.union(["store_id", "product_id"])

    public var storeID: String?
    public var productID: String?
    public var delta: Int64?
    public var quantity: Int64?
    public var reason: String?
    public var reference: String?
    public var expectedVersion: Int64?
    public var occurredAt: String?
    /// Where this body sits in the request, for error messages (`movements[2].`).
    public var fieldPrefix: String

    private enum Key: String, CodingKey {
        case storeID = "store_id", productID = "product_id", delta, quantity, reason, reference
        case expectedVersion = "expected_version", occurredAt = "occurred_at"
    }

    public init(from decoder: any Decoder) throws {
        let inBatch = !decoder.codingPath.isEmpty
        try decoder.rejectUnknownFields(inBatch ? Self.batchFields : Self.fields)
        try self.init(decoder: decoder, inBatch: inBatch)
    }

    /// A Kafka command message: the fields of a batch item at the top level (unknown fields checked by the caller).
    public init(commandMessageFrom decoder: any Decoder) throws {
        try self.init(decoder: decoder, inBatch: true)
        fieldPrefix = ""
    }

    private init(decoder: any Decoder, inBatch: Bool) throws {
        let c = try decoder.container(keyedBy: Key.self)
        storeID = try c.decodeIfPresent(String.self, forKey: .storeID)
        productID = try c.decodeIfPresent(String.self, forKey: .productID)
        delta = try c.integer(.delta)
        quantity = try c.integer(.quantity)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        expectedVersion = try c.integer(.expectedVersion)
        occurredAt = try c.decodeIfPresent(String.self, forKey: .occurredAt)
        fieldPrefix = inBatch ? fieldPath(decoder.codingPath) + "." : ""
    }

    /// The fast path of a Kafka command message, from an already parsed object: nil unless every field has the
    /// type the `Decodable` path accepts (the caller then decodes that way, which names what is wrong). A value
    /// accepted here is accepted there, with the same meaning; null is an absent optional field, as there.
    public init?(commandMessage object: [String: JSONNode]) {
        func text(_ key: String) -> String?? {
            switch object[key] {
            case nil, .null?: .some(nil)
            case .string(let value)?: .some(value)
            default: nil
            }
        }
        func integer(_ key: String) -> Int64?? {
            switch object[key] {
            case nil, .null?: .some(nil)
            // Beyond 2^53 the other readers refuse it (`StrictJSON`): the `Decodable` path says why.
            case .int(let value)? where value.magnitude <= StrictJSON.maxExactInteger: .some(value)
            default: nil
            }
        }
        guard let storeID = text("store_id"), let productID = text("product_id"), let delta = integer("delta"),
            let quantity = integer("quantity"), let reason = text("reason"), let reference = text("reference"),
            let expectedVersion = integer("expected_version"), let occurredAt = text("occurred_at")
        else { return nil }
        self.storeID = storeID
        self.productID = productID
        self.delta = delta
        self.quantity = quantity
        self.reason = reason
        self.reference = reference
        self.expectedVersion = expectedVersion
        self.occurredAt = occurredAt
        self.fieldPrefix = ""
    }

    /// 2000-01-01T00:00:00Z: the earliest `occurred_at` accepted.
    public static let occurredAtEarliestMillis: Int64 = 946_684_800_000
    /// How far ahead of this server's clock an `occurred_at` may be.
    public static let occurredAtMaxFutureMillis: Int64 = 5 * 60_000

    public func command(storeID: String, productID: String) throws -> MovementCommand {
        let change: StockChange
        switch (delta, quantity) {
        case (let d?, nil): change = .delta(d)
        case (nil, let q?): change = .quantity(q)
        default:
            throw DomainError.invalid(field: fieldPrefix + "delta", message: "send exactly one of `delta` (a change) or `quantity` (an absolute count)")
        }
        let occurred = try occurredAt.map { text throws(DomainError) in
            guard let millis = RFC3339.parse(text) else {
                throw DomainError.invalid(field: fieldPrefix + "occurred_at", message: "must be an RFC 3339 time such as 2026-11-27T10:00:00Z")
            }
            // A movement dated decades back (or ahead) would hide from every time-filtered audit: a backdated
            // `damage` in year 0001 is in the ledger but in no report. Allowed: 2000-01-01 to 5 minutes from now
            // (clock skew between a till and this server).
            let latest = Int64(Date().timeIntervalSince1970 * 1000) + Self.occurredAtMaxFutureMillis
            guard millis >= Self.occurredAtEarliestMillis, millis <= latest else {
                throw DomainError.invalid(field: fieldPrefix + "occurred_at",
                                          message: "must be between 2000-01-01T00:00:00Z and 5 minutes from now (got \(text))")
            }
            return millis
        }
        return try MovementCommand(
            storeID: storeID, productID: productID, change: change,
            reason: try reason.map { r throws(DomainError) in try MovementReason.parse(r, field: fieldPrefix + "reason") },
            reference: reference, expectedVersion: expectedVersion, occurredAtMillis: occurred, fieldPrefix: fieldPrefix)
    }
}
