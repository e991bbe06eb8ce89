public import BazaarDomain
import Crypto
import Foundation

/// Movement events on Kafka carry an HMAC-SHA256 of their content (`bazaarsignature`, a CloudEvents extension
/// attribute) under a key derived from the deployment key, and every node acts only on events that verify: anyone
/// who can write to `bazaar.stock-movements` could otherwise put a forged level into the caches of every node or
/// raise alerts (and so webhooks) about stock that does not exist.
///
/// What is signed of a movement event is its `data` as this deployment renders it (`Movement.auditJSON`), recomputed
/// from the fields read back, so a verified event holds exactly the fields that were signed. The topic's other events
/// are signed whole, under a key of their own (`signedStockEvent`). Nodes must share the key
/// (`security.secret_key`, or the same `admin.key`); a node whose key is made up at start (neither configured)
/// accepts only its own events, which is right for a single node and says so in the log.
public struct MovementEventSigner: Sendable {
    public static let attribute = "bazaarsignature"
    static let version = "v1="
    let hmac: KeyedHMAC
    /// The other events of the topic, under a key of their own (a MAC of one kind is never taken for the other).
    let stockEvents: KeyedHMAC

    public init(deploymentKey: DeploymentKey) {
        hmac = KeyedHMAC(key: deploymentKey.key(for: "movement-events/v1"))
        stockEvents = KeyedHMAC(key: deploymentKey.key(for: "stock-events/v1"))
    }

    /// The CloudEvent of `movement` with its signature (its `data` rendered once, for both).
    public func signedCloudEvent(_ movement: Movement) -> String {
        String(decoding: signedCloudEventBytes(movement), as: UTF8.self)
    }

    /// `signedCloudEvent`'s bytes, rendered straight into them: what the relay publishes, once per movement.
    public func signedCloudEventBytes(_ movement: Movement) -> [UInt8] {
        let data = movement.auditJSONBytes
        let mac = hmac.code(data)
        return movement.cloudEventJSONBytes(data: data) { out in
            out.raw("\"bazaarsignature\":\"v1=")
            mac.withUnsafeBytes { out.hex($0) }
            out.raw("\",")
        }
    }

    /// What a movement event read from Kafka turned out to be.
    public enum Verdict: Sendable, Equatable {
        /// Produced by this deployment: act on it.
        case genuine(Movement)
        /// Not a movement event this version can read (or identifiers and numbers outside the contract).
        case unreadable
        /// Well formed, but not signed by this deployment's key.
        case forged
    }

    public func verify(_ json: String) -> Verdict {
        guard let node = JSONNode.parse(json), let data = node["data"], let movement = Movement(cloudEventData: data),
              Self.isWithinContract(movement)
        else { return .unreadable }
        guard let claimed = node[Self.attribute]?.string, claimed.hasPrefix(Self.version),
              let mac = Self.bytes(hex: claimed.dropFirst(Self.version.count)),
              hmac.isValid(mac, for: movement.auditJSONBytes)
        else { return .forged }
        return .genuine(movement)
    }

    /// Identifiers and numbers a movement event may carry; anything else is `.unreadable`, signed or not.
    public static func isWithinContract(_ movement: Movement) -> Bool {
        Identifier.isValid(movement.storeID) && Identifier.isValid(movement.productID) && movement.version >= 1
            && movement.quantityAfter.magnitude <= StockRules.maxAbsoluteLevel.magnitude  // not `abs`: `abs(Int64.min)` traps
    }

    /// The 32 bytes of a MAC written as 64 hex digits (either case); nil for anything else. On the UTF-8 view:
    /// `Substring` indexing by Character cost a tenth of a consumed event's verification.
    static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.utf8.count == 64 else { return nil }
        return Hex.decode(hex.utf8)
    }

    // MARK: The topic's other events

    /// A reservation's, transfer's or purchase order's event on the movement topic, signed whole: `bazaarsignature`
    /// first, then the event as it was, the MAC that of its text without the attribute. A node acts on such an event
    /// (it marks a cached level stale up to the event's `bazaarrevision`) only when it verifies: a forged one with a
    /// huge revision would otherwise keep a pair out of a node's cache for good. Their text is rendered once, kept
    /// in the outbox and published as it is, so a node reads the very bytes that were signed.
    public func signedStockEvent(_ payload: String) -> String {
        guard payload.utf8.first == UInt8(ascii: "{") else { return payload }
        return Self.signaturePrefix + Hex.encode(stockEvents.code(payload)) + "\"," + payload.dropFirst()
    }

    /// Whether `json` is a `signedStockEvent` of this deployment's, unaltered.
    public func isGenuineStockEvent(_ json: String) -> Bool {
        let bytes = Array(json.utf8), prefix = Array(Self.signaturePrefix.utf8)
        let macEnd = prefix.count + 64
        guard bytes.count > macEnd + 2, bytes.starts(with: prefix), bytes[macEnd] == UInt8(ascii: "\""), bytes[macEnd + 1] == UInt8(ascii: ","),
              let mac = Hex.decode(bytes[prefix.count..<macEnd])
        else { return false }
        return stockEvents.isValid(mac, for: "{" + String(decoding: bytes[(macEnd + 2)...], as: UTF8.self))
    }

    static let signaturePrefix = "{\"\(attribute)\":\"\(version)"
}
