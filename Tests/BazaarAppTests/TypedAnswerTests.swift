@testable import BazaarHTTP
import BazaarCore
import BazaarDomain
import Foundation
import Testing

/// Hand-rendered JSON is kept only on the measured hot paths (the write and read answers, the ledger items of the
/// audit log and change feed, the movement events) and for the event `data` of alerts, reservations, purchase orders
/// and transfers, which the domain renders for the outbox. Each must equal the typed `Encodable` answer the HTTP
/// module encodes for the same value, so the two can never drift: same keys, same values, nulls where they are null.
/// Strings come from a pool that includes quotes, backslashes, control characters, combining marks and emoji.
struct TypedAnswerTests {
    static let pool: [UInt32] = [0x0, 0x9, 0x1F, 0x20, 0x22, 0x2F, 0x5C, 0x41, 0x7A, 0x7F, 0xE9, 0x301, 0x2028, 0x1F600]

    static func string(_ rng: inout some RandomNumberGenerator) -> String {
        String(String.UnicodeScalarView((0..<Int.random(in: 0...10, using: &rng)).map { _ in Unicode.Scalar(pool.randomElement(using: &rng)!)! }))
    }

    static func optionalString(_ rng: inout some RandomNumberGenerator) -> String? { Bool.random(using: &rng) ? string(&rng) : nil }

    static func millis(_ rng: inout some RandomNumberGenerator) -> Int64 { Int64.random(in: 0...4_102_444_800_000, using: &rng) }

    /// Both texts parsed: equal as JSON values (numbers by value, so `2.0` and `2` agree).
    static func sameJSON(_ typed: some Encodable, _ handRendered: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let encoded = try Answer.encoder().encode(typed)
        let a = try JSONSerialization.jsonObject(with: encoded, options: [.fragmentsAllowed]) as? NSObject
        let b = try JSONSerialization.jsonObject(with: Data(handRendered.utf8), options: [.fragmentsAllowed]) as? NSObject
        #expect(a != nil && a == b, "typed \(String(decoding: encoded, as: UTF8.self))\n  hand \(handRendered)", sourceLocation: sourceLocation)
    }

    static func movement(_ rng: inout some RandomNumberGenerator) -> Movement {
        let delta = Int64.random(in: -1_000_000...1_000_000, using: &rng), before = Int64.random(in: -5...1_000_000, using: &rng)
        return Movement(sequence: Int64.random(in: 1...Int64.max, using: &rng), movementID: string(&rng), storeID: string(&rng),
                        productID: string(&rng), delta: delta, quantityBefore: before, quantityAfter: before + delta,
                        version: Int64.random(in: 1...1_000_000, using: &rng), reason: MovementReason.allCases.randomElement(using: &rng)!,
                        reference: optionalString(&rng), actor: string(&rng), atMillis: millis(&rng), recordedAtMillis: millis(&rng))
    }

    @Test func theHotPathsEqualTheirTypedAnswers() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let m = Self.movement(&rng)
            try Self.sameJSON(WriteAnswer(movement: m), m.writeAnswerJSON)
            try Self.sameJSON(LedgerItemAnswer(movement: m), m.auditJSON)
            var level = StockLevel(quantity: Int64.random(in: -10...1_000_000, using: &rng), version: Int64.random(in: 0...3, using: &rng),
                                   updatedAtMillis: Self.millis(&rng))
            level.reserved = Int64.random(in: 0...100, using: &rng)
            level.incoming = Int64.random(in: 0...100, using: &rng)
            let store = Self.string(&rng), product = Self.string(&rng)
            try Self.sameJSON(LevelAnswer(storeID: store, productID: product, level: level), level.readAnswerJSON(storeID: store, productID: product))
        }
    }

    /// The movement event is a CloudEvent around the ledger item: typed here as the contract in DESIGN.md spells it.
    @Test func theMovementEventEqualsItsTypedEnvelope() throws {
        struct Envelope: FieldAnswer {
            let m: Movement
            var fields: [(String, any Encodable)] {
                [("specversion", "1.0"), ("type", MovementEvent.type), ("source", "/stores/" + m.storeID), ("id", m.movementID),
                 ("time", AnswerValue.time(m.atMillis)), ("subject", "/products/" + m.productID), ("datacontenttype", "application/json"),
                 ("data", LedgerItemAnswer(movement: m))]
            }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let m = Self.movement(&rng)
            try Self.sameJSON(Envelope(m: m), m.cloudEventJSON)
        }
    }

    @Test func eventDataOfAlertsReservationsOrdersAndTransfersEqualsTheirAnswers() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let opened = Self.millis(&rng)
            let alert = Alert(sequence: 1, id: Self.string(&rng), kind: AlertKind.allCases.randomElement(using: &rng)!,
                              status: AlertStatus.allCases.randomElement(using: &rng)!, storeID: Self.string(&rng), productID: Self.string(&rng),
                              quantity: Int64.random(in: -5...500, using: &rng),
                              threshold: [nil, 0, 2.5, 1e9, 1.0 / 3].randomElement(using: &rng)!, message: Self.string(&rng),
                              openedAtMillis: opened, acknowledgedAtMillis: Bool.random(using: &rng) ? opened + 1 : nil,
                              acknowledgedBy: Self.optionalString(&rng), resolvedAtMillis: Bool.random(using: &rng) ? opened + 2 : nil)
            try Self.sameJSON(AlertAnswer(alert: alert), alert.json)

            let reservation = Reservation(id: Self.string(&rng), storeID: Self.string(&rng), productID: Self.string(&rng),
                                          quantity: Int64.random(in: 1...1000, using: &rng), status: ReservationStatus.allCases.randomElement(using: &rng)!,
                                          reference: Self.optionalString(&rng), expiresAtMillis: Self.millis(&rng), createdAtMillis: Self.millis(&rng),
                                          updatedAtMillis: Self.millis(&rng), movementID: Self.optionalString(&rng))
            try Self.sameJSON(ReservationAnswer(reservation: reservation), reservation.json)

            let lines = (0..<Int.random(in: 1...4, using: &rng)).map { n in
                PurchaseOrderLine(productID: "p\(n)" + Self.string(&rng), quantity: Int64.random(in: 1...50, using: &rng),
                                  received: Int64.random(in: 0...80, using: &rng))
            }
            let order = PurchaseOrder(id: Self.string(&rng), storeID: Self.string(&rng), supplier: Self.string(&rng),
                                      reference: Self.optionalString(&rng), expectedAtMillis: Bool.random(using: &rng) ? Self.millis(&rng) : nil,
                                      status: PurchaseOrderStatus.allCases.randomElement(using: &rng)!, lines: lines,
                                      createdAtMillis: Self.millis(&rng), updatedAtMillis: Self.millis(&rng))
            try Self.sameJSON(PurchaseOrderAnswer(order: order), order.json)

            let received: Int64? = Bool.random(using: &rng) ? Int64.random(in: 0...20, using: &rng) : nil
            let transfer = TransferInTransit(id: Self.string(&rng), fromStoreID: Self.string(&rng), toStoreID: Self.string(&rng),
                                             productID: Self.string(&rng), quantity: Int64.random(in: 1...20, using: &rng),
                                             status: received == nil ? .inTransit : .received, received: received,
                                             reference: Self.optionalString(&rng), shippedMovementID: Self.optionalString(&rng),
                                             receivedMovementID: Self.optionalString(&rng), createdAtMillis: Self.millis(&rng),
                                             updatedAtMillis: Self.millis(&rng))
            try Self.sameJSON(TransferAnswer(transfer: transfer), transfer.json)
        }
    }

    /// Nulls are written, not left out: a nil field is present with `null` (clients test for it).
    @Test func nilFieldsAreWrittenAsNull() throws {
        let level = StockLevel(quantity: 0, version: 0, updatedAtMillis: 0)
        let text = String(decoding: try Answer.encoder().encode(LevelAnswer(storeID: "S", productID: "P", level: level)), as: UTF8.self)
        #expect(text.contains(#""updated_at":null"#), "\(text)")
        let forecast = ForecastAnswer(storeID: "S", productID: "P", quantity: 3, stored: nil, today: 0, horizon: 28)
        let json = try #require(try JSONSerialization.jsonObject(with: Answer.encoder().encode(forecast)) as? [String: Any])
        for key in ["computed_at", "model", "daily_rate", "reorder_point", "days_of_cover", "thresholds_computed_at"] {
            #expect(json[key] is NSNull, "\(key): \(String(describing: json[key]))")
        }
        #expect((json["forecast"] as? [Any])?.isEmpty == true)
    }

    /// A threshold the engine could not compute as a finite number is null, not a refusal to answer.
    @Test func nonFiniteNumbersAreNull() throws {
        let thresholds = StockThresholds(dailyRate: .nan, reorderPoint: .infinity, orderUpTo: 4, leadTimeDays: 2, anomalyAbove: 9,
                                         computedAtMillis: 1, dailyLow: -.infinity, dailyHigh: 3)
        let forecast = ForecastAnswer(storeID: "S", productID: "P", quantity: 3, stored: thresholds, today: 20_000, horizon: 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Answer.encoder().encode(forecast)) as? [String: Any])
        #expect(json["daily_rate"] is NSNull && json["reorder_point"] is NSNull && json["order_up_to"] as? Double == 4)
        let days = try #require(json["forecast"] as? [[String: Any]])
        #expect(days.count == 2 && days[0]["day"] as? String == "2024-10-04" && days[0]["lo"] is NSNull && days[1]["hi"] as? Double == 3)
    }
}

/// Every node answers the same bytes for the same value: keys sorted, at every depth (the encoder's own order is a
/// per-process hash order), the caller's `attributes` included.
@Test func typedAnswersHaveTheirKeysSorted() throws {
    let alert = Alert(id: "a", kind: .lowStock, status: .open, storeID: "S", productID: "P", quantity: 1, threshold: 2, message: "m",
                      openedAtMillis: 0)
    let text = String(decoding: try Answer.encoder().encode(AlertAnswer(alert: alert)), as: UTF8.self)
    let keys = ["acknowledged_at", "acknowledged_by", "alert_id", "at", "kind", "message", "opened_at", "product_id", "quantity",
                "resolved_at", "status", "store_id", "threshold"]
    let positions = keys.map { text.range(of: "\"\($0)\":")?.lowerBound }
    #expect(positions.allSatisfy { $0 != nil } && positions.map { $0! } == positions.map { $0! }.sorted(), "\(text)")
    let attributes = try Answer.attributes(#"{"zeta": 1, "alpha": {"y": 2, "b": 3}}"#)
    #expect(String(decoding: try Answer.encoder().encode(attributes), as: UTF8.self) == #"{"alpha":{"b":3,"y":2},"zeta":1}"#)
}
