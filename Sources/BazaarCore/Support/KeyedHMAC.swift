import Crypto
import Foundation

/// HMAC-SHA256 under one key, keyed once.
///
/// `HMAC(key:)` (which `HMAC.authenticationCode(for:using:)` calls) hashes the key's inner and outer pads: two
/// SHA-256 blocks and two hash contexts before the first byte of the message. The movement events are signed once
/// and verified by every consumer of the topic, and every write answers a consistency token, so per message that was
/// measured at 2% of a write's CPU. Here the keyed state is made once and copied for each message (the hash contexts
/// are copied on write, so the copy never touches the original).
struct KeyedHMAC: Sendable {
    private let keyed: HMAC<SHA256>

    init(key: SymmetricKey) {
        keyed = HMAC<SHA256>(key: key)
    }

    /// The MAC of `text`'s UTF-8 bytes.
    func code(_ text: String) -> HashedAuthenticationCode<SHA256> {
        var hmac = keyed
        var text = text
        text.withUTF8 { hmac.update(data: UnsafeRawBufferPointer($0)) }
        return hmac.finalize()
    }

    /// The MAC of `bytes`.
    func code(_ bytes: [UInt8]) -> HashedAuthenticationCode<SHA256> {
        var hmac = keyed
        bytes.withUnsafeBytes { hmac.update(data: $0) }
        return hmac.finalize()
    }

    /// Whether `mac` is the MAC of `text`, compared in constant time (no early exit on the first wrong byte).
    func isValid(_ mac: [UInt8], for text: String) -> Bool {
        code(text) == mac
    }

    /// Whether `mac` is the MAC of `bytes`, compared in constant time.
    func isValid(_ mac: [UInt8], for bytes: [UInt8]) -> Bool {
        code(bytes) == mac
    }
}
