@testable import BazaarDomain
import Foundation
import Testing

/// The fast paths of the event and answer rendering (issue 15) against what they replaced: the same text.
struct HotPathRenderingTests {
    /// The escaping loop `JSON.quoted` used for every string before its fast path.
    static func quotedSlowly(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    @Test func quotedIsTheEscapingLoopOnEveryKindOfString() {
        var samples = ["", "store-001", "sku-0042", "a:b|c", "café 😀 e\u{301}", "\u{7f}", "x\"y", "back\\slash", "tab\tnew\nline\r",
                       "\u{0}\u{1}\u{1f}", String(repeating: "long-id.", count: 40)]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let scalars = (0..<Int.random(in: 0...12, using: &rng)).map { _ -> Character in
                let pool: [UInt32] = [0x0, 0x9, 0x1F, 0x20, 0x22, 0x5C, 0x41, 0x7A, 0x7F, 0xE9, 0x301, 0x1F600]
                return Character(Unicode.Scalar(pool.randomElement(using: &rng)!)!)
            }
            samples.append(String(scalars))
        }
        for sample in samples {
            #expect(JSON.quoted(sample) == Self.quotedSlowly(sample), "\(sample.debugDescription)")
        }
    }

    @Test func formatWritesTheSameTextAsThePaddedInterpolation() {
        func slowly(_ millis: Int64) -> String {
            let (days, msOfDay) = RFC3339.floorDivMod(millis, 86_400_000)
            let (year, month, day) = RFC3339.civil(fromDays: days)
            let p = RFC3339.pad
            return "\(p(year, 4))-\(p(month, 2))-\(p(day, 2))T\(p(msOfDay / 3_600_000, 2)):\(p(msOfDay / 60_000 % 60, 2)):"
                + "\(p(msOfDay / 1000 % 60, 2)).\(p(msOfDay % 1000, 3))Z"
        }
        var rng = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, -1, 1, 86_399_999, 86_400_000, 951_782_400_000, -62_167_219_200_000, 253_402_300_799_999,
                                253_402_300_800_000, -62_167_219_200_001]
        samples += (0..<5000).map { _ in Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &rng) }
        for millis in samples {
            #expect(RFC3339.format(millis: millis) == slowly(millis), "\(millis)")
        }
    }

    @Test func byteSearchAgreesWithStringContains() {
        let payloads = [
            #"{"specversion":"1.0","type":"bazaar.stock.movement","data":{}}"#,
            #"{"specversion":"1.0","type":"bazaar.stock.reservation","data":{}}"#,
            #"{"type":"bazaar.stock."}"#, #"{"type":"bazaar.stoc"}"#, "", "\"type\":\"", #"{"type":"other"}"#,
            #"{"café":"😀","type":"bazaar.stock.reserved"}"#,
        ]
        for payload in payloads {
            let expected = !payload.contains("\"type\":\"bazaar.stock.movement\"") && payload.contains("\"type\":\"bazaar.stock.")
            #expect(ReservationEvent.isOtherThanMovement(payload) == expected, "\(payload)")
        }
    }
}
