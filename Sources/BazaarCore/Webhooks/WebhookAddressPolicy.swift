public import BazaarDomain
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as its bytes (network order), the unit the webhook policy reasons about.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    /// Parses a textual address. IPv6 may come in brackets and with a zone (`fe80::1%eth0`), which is dropped.
    /// IPv4 is parsed the way the C resolver does (`inet_aton`): besides `127.0.0.1` it accepts `127.1`,
    /// `2130706433`, `0x7f.0.0.1` and `0177.0.0.1`, because a URL host in one of those forms reaches the same
    /// machine when connected to, so the policy must see it as the address it is, not as a name.
    public init?(_ text: String) {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if text.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            self = .v6(withUnsafeBytes(of: &raw) { Array($0) })
            return
        }
        // Only digits, hex digits, `x` and dots can be an address to inet_aton; anything else is a host name.
        guard text.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == "x" || $0 == "X" }) else { return nil }
        var raw = in_addr()
        guard inet_aton(text, &raw) != 0 else { return nil }
        self = .v4(UInt32(bigEndian: raw.s_addr))
    }

    /// `a.b.c.d` as four bytes.
    public init(v4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self = .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        case .v6(let bytes): bytes
        }
    }

    public var description: String {
        switch self {
        case .v4: return bytes.map(String.init).joined(separator: ".")
        case .v6(var bytes):
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &bytes, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// The IPv4 address embedded in an IPv6 one by a translation or tunnelling scheme that a connection to the
    /// IPv6 address would reach (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
    /// 6to4 `2002:AABB:CCDD::/48`), so `::ffff:127.0.0.1` is judged as `127.0.0.1`.
    var embeddedV4: IPAddress? {
        guard case .v6(let b) = self else { return nil }
        func v4(_ i: Int) -> IPAddress { IPAddress(v4: b[i], b[i + 1], b[i + 2], b[i + 3]) }
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xFF, b[11] == 0xFF { return v4(12) }  // ::ffff:0:0/96
        if b[0..<12].allSatisfy({ $0 == 0 }), !(b[12..<15].allSatisfy({ $0 == 0 }) && b[15] <= 1) {
            return v4(12)  // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 are judged as themselves
        }
        if b[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return v4(12) }  // 64:ff9b::/96
        if b[0] == 0x20, b[1] == 0x02 { return v4(2) }  // 2002::/16
        return nil
    }
}

/// A block of addresses, `10.0.0.0/8` or `fc00::/7`; a single address is a block of one.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...bits).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        self.address = address
    }

    public func contains(_ other: IPAddress) -> Bool {
        let a = address.bytes, b = other.bytes
        guard a.count == b.count else { return false }
        var remaining = prefixLength
        for i in 0..<a.count where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a[i] & mask != b[i] & mask { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// Which destinations a webhook may call. Registering a URL and every delivery are checked here, so a manager
/// cannot use webhooks to reach the service's own network (server-side request forgery): loopback, private,
/// carrier-grade NAT, link-local (and with it the cloud metadata service at 169.254.169.254), unspecified,
/// multicast, broadcast and reserved addresses are refused, in IPv4 and in every IPv6 form that reaches them,
/// unless the operator's allowlist (`webhooks.allowed_hosts`) names the host or a block holding the address.
///
/// The check happens twice: at registration on the URL's text (literal addresses and well-known internal
/// names, without any network traffic), and at every delivery on the addresses the name resolves to, because
/// DNS can answer differently later. The delivery then connects to the address that was checked, never to a
/// second resolution of the name.
public struct WebhookAddressPolicy: Sendable {
    /// Host names allowed whatever they resolve to (lower case, without a trailing dot).
    public let allowedHosts: Set<String>
    /// Address blocks allowed although they are internal.
    public let allowedNetworks: [IPNetwork]

    /// No exceptions: only public addresses.
    public static let publicOnly = WebhookAddressPolicy(allowedHosts: [], allowedNetworks: [])

    public init(allowedHosts: Set<String>, allowedNetworks: [IPNetwork]) {
        self.allowedHosts = allowedHosts
        self.allowedNetworks = allowedNetworks
    }

    /// Parses the allowlist: host names, addresses and CIDR blocks, such as
    /// `["hooks.internal.example", "10.20.0.0/16", "127.0.0.1", "fd00:1::/64"]`.
    public init(allowlist: [String]) throws(DomainError) {
        var hosts: Set<String> = [], networks: [IPNetwork] = []
        for entry in allowlist.map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            if let network = IPNetwork(entry) {
                networks.append(network)
            } else if !entry.contains("/"), entry.utf8.count <= 253,
                entry.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }) {
                hosts.insert(Self.normalise(host: entry))
            } else {
                throw .invalid(field: "webhooks.allowed_hosts", message: "`\(entry.prefix(80))` is neither a host name, an IP address nor a CIDR block")
            }
        }
        self.init(allowedHosts: hosts, allowedNetworks: networks)
    }

    static func normalise(host: String) -> String {
        var host = host.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        return host
    }

    /// Why an address is internal, or nil for a public one. Exposed for tests and for the refusal messages.
    public static func classify(_ address: IPAddress) -> String? {
        if let embedded = address.embeddedV4 { return classify(embedded).map { "\($0) (as IPv4 inside IPv6)" } }
        for (network, reason) in internalNetworks where network.contains(address) { return reason }
        return nil
    }

    /// Blocks that are not public destinations, with the reason shown to whoever tried one (RFC 6890 and the
    /// IANA special-purpose registries; embedded IPv4 forms are handled before these).
    static let internalNetworks: [(IPNetwork, String)] = [
        ("0.0.0.0/8", "an unspecified address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.169.254/32", "the cloud metadata service"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a reserved address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a reserved (6to4 relay) address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "a reserved address"),
        ("100::/64", "a reserved (discard) address"),
        ("64:ff9b:1::/48", "a private (local NAT64) address"),
        ("2001::/32", "a tunnelled (Teredo) address"),
        ("2001:db8::/32", "a documentation address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a private (site-local) address"),
        ("ff00::/8", "a multicast address"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    /// Names that always mean the local machine or its cloud's internal services.
    static func internalName(_ host: String) -> String? {
        if host == "localhost" || host.hasSuffix(".localhost") { return "a loopback name" }
        if ["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"].contains(host) { return "the cloud metadata service" }
        return nil
    }

    /// Whether `address` is allowed; nil when it is, else why not.
    public func refusal(of address: IPAddress, host: String? = nil) -> String? {
        if let host, allowedHosts.contains(Self.normalise(host: host)) { return nil }
        guard let reason = Self.classify(address) else { return nil }
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        if let embedded = address.embeddedV4, allowedNetworks.contains(where: { $0.contains(embedded) }) { return nil }
        return reason
    }

    /// Checks a URL's host as written, without resolving it: literal addresses (in any form that reaches the same
    /// address) and well-known internal names. Returns nil when it may be registered, else why not.
    public func refusal(ofURLHost rawHost: String) -> String? {
        let host = Self.normalise(host: rawHost)
        if allowedHosts.contains(host) { return nil }
        if let address = IPAddress(host) {
            return refusal(of: address).map { "\(address) is \($0)" }
        }
        return Self.internalName(host).map { "\(host) is \($0)" }
    }
}
