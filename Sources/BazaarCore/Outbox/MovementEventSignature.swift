public import BazaarDomain
import Crypto
import Foundation

/// Movement events on Kafka carry an HMAC-SHA256 of their content (`bazaarsignature`, a CloudEvents extension
/// attribute) under a key derived from the deployment key, and every node acts only on events that verify: anyone
/// who can write to `bazaar.stock-movements` could otherwise put a forged level into the caches of every node or
/// raise alerts (and so webhooks) about stock that does not exist.
///
/// What is signed is the event's `data` as this deployment renders it (`Movement.auditJSON`), recomputed from the
/// fields read back, so a verified event holds exactly the fields that were signed. Nodes must share the key
/// (`security.secret_key`, or the same `admin.key`); a node whose key is made up at start (neither configured)
/// accepts only its own events, which is right for a single node and says so in the log.
public struct MovementEventSigner: Sendable {
    public static let attribute = "bazaarsignature"
    static let version = "v1="
    let hmac: KeyedHMAC

    public init(deploymentKey: DeploymentKey) {
        hmac = KeyedHMAC(key: deploymentKey.key(for: "movement-events/v1"))
    }

    /// `v1=` and the hex HMAC of the movement's `data`.
    public func signature(of movement: Movement) -> String {
        signature(data: movement.auditJSON)
    }

    func signature(data: String) -> String {
        Self.version + Hex.encode(hmac.code(data))
    }

    /// The CloudEvent of `movement` with its signature (its `data` rendered once, for both).
    public func signedCloudEvent(_ movement: Movement) -> String {
        let data = movement.auditJSON
        return "{\"\(Self.attribute)\":\"\(signature(data: data))\"," + movement.cloudEventJSON(data: data).dropFirst()
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
              Identifier.isValid(movement.storeID), Identifier.isValid(movement.productID), movement.version >= 1,
              abs(movement.quantityAfter) <= StockRules.maxAbsoluteLevel
        else { return .unreadable }
        guard let claimed = node[Self.attribute]?.string, claimed.hasPrefix(Self.version),
              let mac = Self.bytes(hex: claimed.dropFirst(Self.version.count)),
              hmac.isValid(mac, for: movement.auditJSON)
        else { return .forged }
        return .genuine(movement)
    }

    /// The 32 bytes of a MAC written as 64 hex digits (either case); nil for anything else. On the UTF-8 view:
    /// `Substring` indexing by Character cost a tenth of a consumed event's verification.
    static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.utf8.count == 64 else { return nil }
        return Hex.decode(hex.utf8)
    }
}
