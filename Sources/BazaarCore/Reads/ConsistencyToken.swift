import BazaarDomain
import Crypto
import Foundation

/// Signs and checks `Bazaar-Consistency` tokens: `<position>.<mac>`, where the position is the GTID of a write's
/// commit and the MAC the first 16 bytes, in hex, of its HMAC-SHA256 under `DeploymentKey.key(for: "consistency/v1")`.
///
/// A token makes a read wait (up to `database.replica_wait_ms`) on a replica connection until that position is
/// applied. Unsigned, any key could send a position far ahead (`0-1-999999999`) and pin a replica connection for
/// the whole wait on every request; signed, only a position this deployment answered to a write is ever waited
/// for. Checking costs one HMAC and no I/O, so a forged token is refused before it reaches storage.
public struct ConsistencyTokenSigner: Sendable {
    /// Positions are GTIDs (MariaDB `0-1-42`, MySQL `uuid:1-42`), possibly comma-separated sets.
    public static let maxPositionLength = 2048
    static let macBytes = 16
    let hmac: KeyedHMAC

    public init(deploymentKey: DeploymentKey) {
        hmac = KeyedHMAC(key: deploymentKey.key(for: "consistency/v1"))
    }

    /// The token to answer for a write committed at `position`.
    public func sign(_ position: String) -> String {
        position + "." + Hex.encode(Array(mac(position).prefix(Self.macBytes)))
    }

    /// The position of a token this deployment signed, or nil for anything else (malformed, altered, another
    /// deployment's, or signed under a key since rotated).
    public func position(of token: String) -> String? {
        guard let dot = token.utf8.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        let position = String(token[..<dot])
        let macText = token[token.index(after: dot)...]
        guard Self.isPosition(position), macText.utf8.count == Self.macBytes * 2, let given = Self.lowercaseHex(macText)
        else { return nil }
        let expected = Array(mac(position).prefix(Self.macBytes))
        // Constant time: the comparison must not tell a forger how many leading bytes were right.
        guard given.count == expected.count, zip(given, expected).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return position
    }

    private func mac(_ position: String) -> HashedAuthenticationCode<SHA256> {
        hmac.code(position)
    }

    /// The bytes of lowercase hex text (as `sign` writes it), or nil. `Hex` reads either case; a token is only ever
    /// written in lowercase, so an uppercase digit is not one this deployment answered.
    static func lowercaseHex(_ text: Substring) -> [UInt8]? {
        guard !text.utf8.contains(where: { (0x41...0x46).contains($0) }) else { return nil }
        return Hex.decode(text.utf8)
    }

    /// Whether `position` is one a token may carry (what `position(of:)` accepts back): a position read from a server
    /// that is not (a tagged MySQL GTID, a set beyond the length) is better not answered than refused on the next read.
    public static func isPosition(_ position: String) -> Bool {
        !position.isEmpty && position.utf8.count <= maxPositionLength && position.utf8.allSatisfy(isPositionByte)
    }

    /// Digits, hex letters, and the separators of GTID sets.
    static func isPositionByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ",")
    }
}
