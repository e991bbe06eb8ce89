@testable import BazaarCore
import Crypto
import Testing

/// `KeyedHMAC` must answer exactly what `HMAC.authenticationCode` does (nodes of the previous release verify this
/// release's events and tokens, and the other way round), however often and from however many tasks it is used:
/// each message works on a copy of the keyed state, never on the state itself.
@Suite struct KeyedHMACTests {
    static let texts = ["", "a", String(repeating: "x", count: 63), String(repeating: "y", count: 64), String(repeating: "z", count: 65),
                        "{\"movement_id\":\"mv_1\",\"delta\":-3}", "héllo \u{1F600} \u{2028}", String(repeating: "long ", count: 2000)]

    @Test func everyMACEqualsTheLibrarysOneTimeHMAC() {
        let key = SymmetricKey(data: Array("a deployment key of some length".utf8))
        let keyed = KeyedHMAC(key: key)
        for _ in 0..<3 {
            for text in Self.texts {
                let expected = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)
                #expect(keyed.code(text) == expected, "\(text.prefix(20))")
                #expect(keyed.isValid(Array(expected), for: text))
                var altered = Array(expected)
                altered[31] ^= 1
                #expect(!keyed.isValid(altered, for: text) && !keyed.isValid(Array(expected.prefix(31)), for: text))
            }
        }
    }

    @Test func concurrentUsersShareTheKeyedStateWithoutDisturbingIt() async {
        let key = SymmetricKey(size: .bits256)
        let keyed = KeyedHMAC(key: key)
        let expected = Self.texts.map { Array(HMAC<SHA256>.authenticationCode(for: Array($0.utf8), using: key)) }
        let wrong = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for round in 0..<500 {
                        let index = (worker + round) % Self.texts.count
                        if Array(keyed.code(Self.texts[index])) != expected[index] { wrong += 1 }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(wrong == 0)
    }
}
