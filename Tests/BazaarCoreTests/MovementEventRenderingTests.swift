@testable import BazaarCore
@testable import BazaarDomain
import Crypto
import Testing

/// Movement events and their signed data are rendered straight into bytes (`JSONBytes`). Nodes check an event's
/// signature against their own rendering of its data, and during a rolling deploy the other release renders it the
/// way it always did: so the bytes must be exactly what the interpolated rendering wrote (kept here as the
/// reference), for every field a movement can hold and a hostile one too.
@Suite struct MovementEventRenderingTests {
    static let texts = ["", "pos", "PO \"9\"", "back\\slash", "tab\there", "line\nbreak\r", "\u{0}\u{1}\u{1F}\u{7F}", "héllo \u{1F600} \u{2028}",
                        String(repeating: "long ", count: 300), "/", "S:1", "a\u{301}"]
    static let numbers: [Int64] = [0, 1, -1, 9, 10, -10, 123_456_789, Int64.max, Int64.min, 1 << 53, -(1 << 53)]
    static let times: [Int64] = [0, 1, -1, 999, 1_700_000_000_123, 253_402_300_799_999, 253_402_300_800_000, -62_135_596_800_000,
                                 -62_167_219_200_001, 4_102_444_800_000, Int64.max / 2, Int64.min / 2, Int64.max, Int64.min]

    @Test func bytesAreExactlyTheInterpolatedRendering() {
        var generator = SystemRandomNumberGenerator()
        let signer = MovementEventSigner(deploymentKey: DeploymentKey(secret: "0123456789abcdef-test"))
        let mac = HMAC<SHA256>(key: DeploymentKey(secret: "0123456789abcdef-test").key(for: "movement-events/v1"))
        for round in 0..<5_000 {
            let movement = Movement(
                sequence: Int64(round), movementID: Self.texts.randomElement(using: &generator)!, storeID: Self.texts.randomElement(using: &generator)!,
                productID: Self.texts.randomElement(using: &generator)!, delta: Self.numbers.randomElement(using: &generator)!,
                quantityBefore: Self.numbers.randomElement(using: &generator)!, quantityAfter: Self.numbers.randomElement(using: &generator)!,
                version: Self.numbers.randomElement(using: &generator)!, reason: MovementReason.allCases.randomElement(using: &generator)!,
                reference: Bool.random(using: &generator) ? nil : Self.texts.randomElement(using: &generator)!,
                actor: Self.texts.randomElement(using: &generator)!, atMillis: Self.times.randomElement(using: &generator)!,
                recordedAtMillis: round < 100 ? Int64.random(in: -70_000_000_000_000...260_000_000_000_000, using: &generator)
                    : Self.times.randomElement(using: &generator)!)
            let data = Self.referenceAuditJSON(movement)
            #expect(movement.auditJSON == data)
            #expect(movement.auditJSONBytes == Array(data.utf8))
            #expect(movement.cloudEventJSON == Self.referenceCloudEventJSON(movement, data: data))
            var keyed = mac
            keyed.update(data: Array(data.utf8))
            let signature = "v1=" + Hex.encode(keyed.finalize())
            let signed = "{\"bazaarsignature\":\"\(signature)\"," + Self.referenceCloudEventJSON(movement, data: data).dropFirst()
            #expect(signer.signedCloudEventBytes(movement) == Array(signed.utf8))
            #expect(signer.signedCloudEvent(movement) == signed)
        }
    }

    /// An event signed the way the release before signed it (its `String` rendering) verifies here, and the
    /// attribute's name and version are the ones the bytes are written with.
    @Test func anEventOfTheReleaseBeforeVerifies() throws {
        #expect(MovementEventSigner.attribute == "bazaarsignature" && MovementEventSigner.version == "v1=")
        let secret = DeploymentKey(secret: "0123456789abcdef-test")
        let signer = MovementEventSigner(deploymentKey: secret)
        for reference in [nil, "PO \"9\" \u{1}\u{1F600}"] {
            let movement = Movement(sequence: 0, movementID: "018bcfe5-687b-7000-8000-000000000001", storeID: "S:1", productID: "P.1", delta: -3,
                                    quantityBefore: 2, quantityAfter: -1, version: 4, reason: .sale, reference: reference, actor: "pos \u{7}",
                                    atMillis: 1_700_000_000_000, recordedAtMillis: 1_700_000_000_123)
            let data = Self.referenceAuditJSON(movement)
            var mac = HMAC<SHA256>(key: secret.key(for: "movement-events/v1"))
            mac.update(data: Array(data.utf8))
            let before = "{\"bazaarsignature\":\"v1=\(Hex.encode(mac.finalize()))\"," + Self.referenceCloudEventJSON(movement, data: data).dropFirst()
            #expect(signer.verify(before) == .genuine(movement))
            // The MAC of bytes and of the same text agree.
            #expect(signer.hmac.isValid(Array(mac.finalize()), for: Array(data.utf8)) && signer.hmac.isValid(Array(mac.finalize()), for: data))
        }
    }

    /// Every integer as `description` writes it, and its length counted right (what fingerprints put in front).
    @Test func integersAreWrittenAsTheirDescription() {
        for value in Self.numbers + [Int64.max - 1, Int64.min + 1, 99, 100, -99, -100] + (0..<2_000).map({ _ in Int64.random(in: .min ... .max) }) {
            var bytes: [UInt8] = []
            DecimalText.append(value, to: &bytes)
            #expect(bytes == Array(value.description.utf8) && DecimalText.count(value) == bytes.count, "\(value)")
        }
    }

    @Test func timesAreWhatTheyAlwaysWere() {
        for millis in Self.times + (0..<2_000).map({ _ in Int64.random(in: -80_000_000_000_000...300_000_000_000_000) }) {
            #expect(RFC3339.format(millis: millis) == Self.referenceFormat(millis: millis), "\(millis)")
        }
    }

    /// The rendering before `JSONBytes`.
    static func referenceAuditJSON(_ m: Movement) -> String {
        """
        {"movement_id":\(JSON.quoted(m.movementID)),"store_id":\(JSON.quoted(m.storeID)),"product_id":\(JSON.quoted(m.productID)),\
        "delta":\(m.delta),"quantity_before":\(m.quantityBefore),"quantity_after":\(m.quantityAfter),\
        "version":\(m.version),"reason":"\(m.reason.rawValue)","reference":\(JSON.quotedOrNull(m.reference)),\
        "actor":\(JSON.quoted(m.actor)),"at":"\(referenceFormat(millis: m.atMillis))",\
        "recorded_at":"\(referenceFormat(millis: m.recordedAtMillis))"}
        """
    }

    static func referenceCloudEventJSON(_ m: Movement, data: String) -> String {
        """
        {"specversion":"1.0","type":"\(MovementEvent.type)","source":\(JSON.quoted("/stores/" + m.storeID)),\
        "id":\(JSON.quoted(m.movementID)),"time":"\(referenceFormat(millis: m.atMillis))",\
        "subject":\(JSON.quoted("/products/" + m.productID)),"datacontenttype":"application/json","data":\(data)}
        """
    }

    /// `RFC3339.format` as it was written before its bytes could be appended to a buffer.
    static func referenceFormat(millis: Int64) -> String {
        let (days, msOfDay) = RFC3339.floorDivMod(millis, 86_400_000)
        let (year, month, day) = RFC3339.civil(fromDays: days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(msOfDay / 3_600_000, 2)):\(pad(msOfDay / 60_000 % 60, 2)):"
            + "\(pad(msOfDay / 1000 % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
    }
}
