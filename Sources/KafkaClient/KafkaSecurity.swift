import Foundation

/// How a client reaches the brokers, in librdkafka's terms: `security.protocol` (`plaintext`, `ssl`, `sasl_plaintext`,
/// `sasl_ssl`), the TLS files (`ssl.ca.location`, and `ssl.certificate.location` with `ssl.key.location` for a
/// client certificate) and SCRAM credentials (`sasl.mechanisms` `SCRAM-SHA-256` or `SCRAM-SHA-512`, `sasl.username`,
/// `sasl.password`). Validated when made: a setting that the protocol would ignore, a missing credential, an unknown
/// mechanism or an unreadable file is an error here, not a silent plaintext connection or a retry loop later.
/// The broker's certificate chain and host name (or IP address) are always verified
/// (`ssl.endpoint.identification.algorithm=https`). The password never appears in `description`.
public struct KafkaSecurity: Sendable, Equatable, CustomStringConvertible {
    public enum SecurityProtocol: String, Sendable, CaseIterable {
        case plaintext, ssl, saslPlaintext = "sasl_plaintext", saslSSL = "sasl_ssl"
        public var usesTLS: Bool { self == .ssl || self == .saslSSL }
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
    }

    /// The SASL mechanisms Bazaar offers: salted challenge-response, the password never sent.
    public enum SASLMechanism: String, Sendable, CaseIterable {
        case scramSHA256 = "SCRAM-SHA-256", scramSHA512 = "SCRAM-SHA-512"
    }

    public struct SASL: Sendable, Equatable {
        public var mechanism: SASLMechanism
        public var username: String
        public var password: String
    }

    /// `security.protocol`
    public let securityProtocol: SecurityProtocol
    /// `ssl.ca.location`: the authority that signed the brokers' certificates (default: the system's trust store).
    public let caLocation: String?
    /// `ssl.certificate.location` and `ssl.key.location`: this client's certificate, for brokers that require one.
    public let certificateLocation: String?
    public let keyLocation: String?
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password` (with `sasl_plaintext` and `sasl_ssl` only).
    public let sasl: SASL?

    /// No TLS, no authentication: what a client without security settings does.
    public static let plaintext = KafkaSecurity(unchecked: .plaintext)

    private init(unchecked securityProtocol: SecurityProtocol) {
        self.securityProtocol = securityProtocol
        (caLocation, certificateLocation, keyLocation, sasl) = (nil, nil, nil, nil)
    }

    /// Reads the settings as an operator writes them (empty text counts as unset; the protocol and mechanism in any
    /// case). The error's message names the librdkafka property that is wrong, never the password.
    public init(securityProtocol: String = "plaintext", caLocation: String? = nil, certificateLocation: String? = nil,
                keyLocation: String? = nil, saslMechanism: String? = nil, saslUsername: String? = nil,
                saslPassword: String? = nil) throws(KafkaError) {
        func given(_ text: String?) -> String? {
            guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        let protocolText = given(securityProtocol)?.lowercased() ?? "plaintext"
        guard let parsed = SecurityProtocol(rawValue: protocolText) else {
            throw Self.invalid("security.protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl (got `\(securityProtocol.prefix(40))`)")
        }
        let tlsFiles = [("ssl.ca.location", given(caLocation)), ("ssl.certificate.location", given(certificateLocation)),
                        ("ssl.key.location", given(keyLocation))]
        if !parsed.usesTLS, let (name, _) = tlsFiles.first(where: { $0.1 != nil }) {
            throw Self.invalid("\(name) is set but security.protocol is \(parsed.rawValue), which does not use TLS: use \(parsed.usesSASL ? "sasl_ssl" : "ssl")")
        }
        for case let (name, path?) in tlsFiles where !FileManager.default.isReadableFile(atPath: path) {
            throw Self.invalid("\(name) \(path) is not a readable file")
        }
        if (given(certificateLocation) == nil) != (given(keyLocation) == nil) {
            throw Self.invalid("ssl.certificate.location and ssl.key.location go together (a client certificate and its key): set both or neither")
        }
        // The password is kept as given (spaces may belong to it); only "not set at all" is refused.
        let password = saslPassword.flatMap { $0.isEmpty ? nil : $0 }
        let saslSettings = [("sasl.mechanisms", given(saslMechanism)), ("sasl.username", given(saslUsername)), ("sasl.password", password)]
        if parsed.usesSASL {
            let mechanismText = given(saslMechanism) ?? SASLMechanism.scramSHA512.rawValue
            guard let mechanism = SASLMechanism(rawValue: mechanismText.uppercased()) else {
                throw Self.invalid("sasl.mechanisms must be SCRAM-SHA-256 or SCRAM-SHA-512 (got `\(mechanismText.prefix(40))`)")
            }
            guard let username = given(saslUsername) else {
                throw Self.invalid("security.protocol \(parsed.rawValue) needs sasl.username (the SCRAM user)")
            }
            guard let password else { throw Self.invalid("security.protocol \(parsed.rawValue) needs sasl.password") }
            sasl = SASL(mechanism: mechanism, username: username, password: password)
        } else {
            if let (name, _) = saslSettings.first(where: { $0.1 != nil }) {
                throw Self.invalid("\(name) is set but security.protocol is \(parsed.rawValue), which does not authenticate: use \(parsed.usesTLS ? "sasl_ssl" : "sasl_ssl (or sasl_plaintext)")")
            }
            sasl = nil
        }
        self.securityProtocol = parsed
        self.caLocation = given(caLocation)
        self.certificateLocation = given(certificateLocation)
        self.keyLocation = given(keyLocation)
    }

    /// The librdkafka properties (none for plaintext: the client is configured exactly as without this).
    public var properties: [String: String] {
        guard securityProtocol != .plaintext else { return [:] }
        var properties = ["security.protocol": securityProtocol.rawValue]
        if securityProtocol.usesTLS {
            properties["ssl.endpoint.identification.algorithm"] = "https"
            properties["ssl.ca.location"] = caLocation
            properties["ssl.certificate.location"] = certificateLocation
            properties["ssl.key.location"] = keyLocation
        }
        if let sasl {
            properties["sasl.mechanisms"] = sasl.mechanism.rawValue
            properties["sasl.username"] = sasl.username
            properties["sasl.password"] = sasl.password
        }
        return properties
    }

    public var description: String {
        KafkaConfiguration.redacted(properties).isEmpty ? "security.protocol=plaintext"
            : KafkaConfiguration.redacted(properties).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    static func invalid(_ message: String) -> KafkaError { KafkaError(code: KafkaError.invalidConfiguration, message: message) }
}
