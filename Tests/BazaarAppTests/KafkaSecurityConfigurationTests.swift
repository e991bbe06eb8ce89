import BazaarApp
import Foundation
import Testing

/// The Kafka clients' TLS and SASL keys (`kafka.security_protocol` and the rest, issue 11): read like every key,
/// refused at configuration time when they cannot work, the password never in an error or in `bazaar doctor`.
struct KafkaSecurityConfigurationTests {
    static let caFile = URL(fileURLWithPath: #filePath).path

    func refusal(_ environment: [String: String]) async -> String {
        do {
            _ = try await BazaarConfiguration.load(environment: environment.merging(["BAZAAR_KAFKA_BROKERS": "127.0.0.1:1"]) { given, _ in given })
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func theKeysAreReadFromTheEnvironment() async throws {
        let configuration = try await BazaarConfiguration.load(environment: [
            "BAZAAR_KAFKA_BROKERS": "k1:9093", "BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BAZAAR_KAFKA_SSL_CA_LOCATION": Self.caFile,
            "BAZAAR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "BAZAAR_KAFKA_SASL_USERNAME": "bazaar", "BAZAAR_KAFKA_SASL_PASSWORD": "s3cret-pw",
        ])
        #expect(configuration.kafkaSecurityProtocol == "sasl_ssl" && configuration.kafkaSSLCALocation == Self.caFile)
        #expect(configuration.kafkaSASLMechanism == "SCRAM-SHA-256" && configuration.kafkaSASLUsername == "bazaar")
        #expect(configuration.kafkaSASLPassword == "s3cret-pw")
        let defaults = try await BazaarConfiguration.load(environment: [:])
        #expect(defaults.kafkaSecurityProtocol == "plaintext" && defaults.kafkaSASLUsername == nil && defaults.kafkaSSLCALocation == nil)
        // A JSON config file nests them like every key.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bazaar-kafka-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("bazaar.json")
        try #"{"kafka": {"brokers": "k:9093", "security_protocol": "ssl", "ssl_ca_location": "\#(Self.caFile)"}}"#.write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try await BazaarConfiguration.load(configFile: file.path, environment: [:])
        #expect(fromFile.kafkaSecurityProtocol == "ssl" && fromFile.kafkaSSLCALocation == Self.caFile)
    }

    @Test func settingsThatCannotWorkAreConfigurationErrorsNamingTheKey() async {
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "tls"]).contains("kafka.security_protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl"))
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BAZAAR_KAFKA_SASL_PASSWORD": "pw-123"])
            .contains("kafka.security_protocol sasl_ssl needs kafka.sasl_username"))
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "BAZAAR_KAFKA_SASL_USERNAME": "u"])
            .contains("needs kafka.sasl_password"))
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BAZAAR_KAFKA_SASL_MECHANISM": "PLAIN",
                               "BAZAAR_KAFKA_SASL_USERNAME": "u", "BAZAAR_KAFKA_SASL_PASSWORD": "pw-123"])
            .contains("kafka.sasl_mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512 (got `PLAIN`)"))
        #expect(await refusal(["BAZAAR_KAFKA_SASL_USERNAME": "u", "BAZAAR_KAFKA_SASL_PASSWORD": "pw-123"])
            .contains("kafka.sasl_username is set but kafka.security_protocol is plaintext"))
        #expect(await refusal(["BAZAAR_KAFKA_SSL_CA_LOCATION": Self.caFile]).contains("kafka.ssl_ca_location is set but kafka.security_protocol is plaintext"))
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "ssl", "BAZAAR_KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"])
            .contains("kafka.ssl_ca_location /nonexistent/ca.pem is not a readable file"))
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "ssl", "BAZAAR_KAFKA_SSL_KEY_LOCATION": Self.caFile])
            .contains("kafka.ssl_certificate_location and kafka.ssl_key_location go together"))
        // Security settings with no brokers to use them on.
        await #expect(throws: ConfigurationError.self) {
            try await BazaarConfiguration.load(environment: ["BAZAAR_KAFKA_SECURITY_PROTOCOL": "ssl"])
        }
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "ssl"]) == "accepted")
        #expect(await refusal(["BAZAAR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "BAZAAR_KAFKA_SASL_USERNAME": "u",
                               "BAZAAR_KAFKA_SASL_PASSWORD": "pw-123"]) == "accepted")
    }

    @Test func thePasswordAppearsInNoErrorAndNoDoctorLine() async throws {
        let password = "hunter2-not-shown"
        for environment in [
            ["BAZAAR_KAFKA_SECURITY_PROTOCOL": "ssl", "BAZAAR_KAFKA_SASL_PASSWORD": password],
            ["BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BAZAAR_KAFKA_SASL_PASSWORD": password],
            ["BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BAZAAR_KAFKA_SASL_MECHANISM": "PLAIN", "BAZAAR_KAFKA_SASL_USERNAME": "u",
             "BAZAAR_KAFKA_SASL_PASSWORD": password],
        ] {
            let text = await refusal(environment)
            #expect(text != "accepted" && !text.contains("hunter2"), "\(text)")
        }
        // Nothing listens on port 1: doctor says the broker cannot be reached, with the protocol, not the password.
        var configuration = try await BazaarConfiguration.load(environment: [
            "BAZAAR_KAFKA_BROKERS": "127.0.0.1:1", "BAZAAR_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
            "BAZAAR_KAFKA_SASL_USERNAME": "bazaar", "BAZAAR_KAFKA_SASL_PASSWORD": password,
        ])
        configuration.databaseURL = "sqlite://\(FileManager.default.temporaryDirectory.path)/doctor-\(UUID().uuidString.prefix(8)).sqlite"
        let checks = await Doctor.run(configuration, timeoutSeconds: 2)
        let kafka = try #require(checks.first { $0.name == "kafka" })
        #expect(!kafka.ok && kafka.line.contains("sasl_plaintext"), "\(kafka.line)")
        #expect(checks.allSatisfy { !$0.line.contains("hunter2") })
    }
}
