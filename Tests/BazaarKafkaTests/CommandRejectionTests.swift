@testable import BazaarKafka
import Foundation
import Testing

/// The value `CommandIngestion` publishes to `bazaar.stock-commands.rejected` for a command it refuses, without a
/// broker: valid JSON whatever the refused bytes were, the start of the value echoed, never the whole of a huge one.
struct CommandRejectionTests {
    let problem = #"{"type":"/problems/invalid-request","status":422,"detail":"delta: must be an integer"}"#

    func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    @Test func aRejectionEchoesTheValueTheGroupAndTheProblem() throws {
        let value = #"{"id": "c1", "delta": "3", "reference": "PO \"7\"\n\t\u{0001}"}"#
        let rejection = try parse(CommandIngestion.rejection(of: Array(value.utf8), problem: problem, group: "bazaar-eu"))
        #expect(rejection["value"] as? String == value)
        #expect((rejection["value_bytes"] as? NSNumber)?.intValue == value.utf8.count)
        #expect(rejection["value_truncated"] as? Bool == false)
        #expect(rejection["group"] as? String == "bazaar-eu")
        #expect((rejection["problem"] as? [String: Any])?["detail"] as? String == "delta: must be an integer")
    }

    @Test func aHugeValueIsCutToTheEchoBoundAndSaysSo() throws {
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: CommandIngestion.maxEchoedBytes * 50)
        let text = CommandIngestion.rejection(of: value, problem: problem, group: "g")
        let rejection = try parse(text)
        #expect((rejection["value"] as? String)?.utf8.count == CommandIngestion.maxEchoedBytes)
        #expect((rejection["value_bytes"] as? NSNumber)?.intValue == value.count)
        #expect(rejection["value_truncated"] as? Bool == true)
        #expect(text.utf8.count < CommandIngestion.maxEchoedBytes + 1024, "the rejection stays small enough to publish")
    }

    @Test func aValueAtTheBoundExactlyIsWhole() throws {
        let value = [UInt8](repeating: UInt8(ascii: "y"), count: CommandIngestion.maxEchoedBytes)
        let rejection = try parse(CommandIngestion.rejection(of: value, problem: problem, group: "g"))
        #expect(rejection["value_truncated"] as? Bool == false)
        #expect((rejection["value"] as? String)?.utf8.count == value.count)
    }

    @Test(arguments: [
        [0xFF, 0xFE, 0x41],  // never UTF-8
        [0x41, 0xE2, 0x82],  // a character cut short
        [0xC0, 0xAF],  // an overlong encoding of "/"
        [0x00, 0x22, 0x5C],  // NUL, a quote, a backslash
    ] as [[UInt8]])
    func bytesThatAreNotUTF8StillMakeValidJSON(_ value: [UInt8]) throws {
        let rejection = try parse(CommandIngestion.rejection(of: value, problem: problem, group: "g"))
        #expect((rejection["value_bytes"] as? NSNumber)?.intValue == value.count)
        #expect(rejection["value"] is String)
    }

    @Test func aCutInsideAMultiByteCharacterStillMakesValidJSON() throws {
        // "é" is two bytes: put its first byte last inside the bound.
        let value = [UInt8](repeating: UInt8(ascii: "a"), count: CommandIngestion.maxEchoedBytes - 1) + Array("éééé".utf8)
        let rejection = try parse(CommandIngestion.rejection(of: value, problem: problem, group: "g"))
        #expect(rejection["value_truncated"] as? Bool == true)
        #expect((rejection["value"] as? String)?.hasSuffix("\u{FFFD}") == true)
    }
}
