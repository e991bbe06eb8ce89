import BazaarCore
import BazaarDomain
import Testing

/// The movement topic's other events (reservations, transfers in transit, purchase orders) are signed whole
/// (`MovementEventSigner.signedStockEvent`): a node marks a cached level stale up to such an event's revision only
/// when it verifies, so a forged one cannot keep a pair out of its cache for good.
@Suite struct StockEventSignatureTests {
    let signer = MovementEventSigner(deploymentKey: DeploymentKey(secret: "0123456789abcdef-test"))

    @Test func aSignedEventVerifiesReadsAsBeforeAndAnyChangeIsRefused() throws {
        let payload = reservation("S:1", "P.1", quantity: 9, reference: "réf \"7\" \u{1F600}\u{2028}").cloudEventJSON(stockRevision: 3)
        let signed = signer.signedStockEvent(payload)
        #expect(signer.isGenuineStockEvent(signed))
        let change = try #require(ReservationEvent.stockChange(in: signed))
        #expect(change.storeID == "S:1" && change.productID == "P.1" && change.revision == 3)
        #expect(ReservationEvent.isOtherThanMovement(signed))
        #expect(!signer.isGenuineStockEvent(signed.replacingOccurrences(of: "\"bazaarrevision\":\"3\"", with: "\"bazaarrevision\":\"4611686018427387904\"")))
        #expect(!signer.isGenuineStockEvent(payload), "unsigned")
        #expect(!signer.isGenuineStockEvent(MovementEventSigner(deploymentKey: DeploymentKey(secret: "another-key-0123456789")).signedStockEvent(payload)))
        // A byte changed anywhere (the MAC, a field, the end) is refused.
        let bytes = Array(signed.utf8)
        for index in stride(from: 0, to: bytes.count, by: 7) {
            var altered = bytes
            altered[index] = altered[index] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            #expect(!signer.isGenuineStockEvent(String(decoding: altered, as: UTF8.self)), "byte \(index)")
        }
    }

    @Test func malformedSignaturesAreRefusedWithoutTrapping() {
        let prefix = #"{"bazaarsignature":"v1="#
        for text in ["", "{", "not json", prefix, prefix + String(repeating: "a", count: 64), prefix + String(repeating: "a", count: 64) + "\"",
                     prefix + String(repeating: "g", count: 64) + "\",\"type\":\"bazaar.stock.reservation\"}",
                     prefix + String(repeating: "a", count: 63) + "é\",\"x\":1}", #"{"bazaarsignature":"v2=00","x":1}"#] {
            #expect(!signer.isGenuineStockEvent(text), "\(text)")
        }
        #expect(signer.signedStockEvent("[1]") == "[1]", "only an object is signed")
    }
}
