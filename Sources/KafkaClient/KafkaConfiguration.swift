import CRdKafka

/// librdkafka properties, by their librdkafka names, with typed accessors for the ones Bazaar sets. `description`
/// hides the secrets (`sasl.password`, `ssl.key.password`).
public struct KafkaConfiguration: Sendable, Equatable, CustomStringConvertible {
    public var properties: [String: String]

    /// `security`'s properties (TLS, SASL) are laid over `properties`.
    public init(brokers: String, security: KafkaSecurity = .plaintext, _ properties: [String: String] = [:]) {
        self.properties = properties.merging(security.properties) { _, new in new }.merging(["bootstrap.servers": brokers]) { _, new in new }
    }

    /// The properties librdkafka never echoes back: shown as `***`.
    static let secretProperties: Set<String> = ["sasl.password", "ssl.key.password", "ssl.keystore.password"]

    static func redacted(_ properties: [String: String]) -> [String: String] {
        properties.reduce(into: [:]) { $0[$1.key] = secretProperties.contains($1.key) ? "***" : $1.value }
    }

    public var description: String {
        Self.redacted(properties).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// `bootstrap.servers`
    public var brokers: String { properties["bootstrap.servers"] ?? "" }

    /// A producer that loses nothing: `acks=all`, `enable.idempotence=true`; `linger.ms` batches sends.
    public static func producer(brokers: String, security: KafkaSecurity = .plaintext, lingerMillis: Int = 50) -> KafkaConfiguration {
        KafkaConfiguration(brokers: brokers, security: security, [
            "acks": "all", "enable.idempotence": "true", "linger.ms": String(lingerMillis),
            // Retried for 30 s, then reported as failed: the outbox still holds the event and sends it again.
            "message.timeout.ms": "30000",
        ])
    }

    /// A consumer in `group.id` whose offsets are stored only after processing (`enable.auto.offset.store=false`)
    /// and committed from the store in the background; a new group starts at the earliest offset
    /// (`auto.offset.reset`), or at the newest with `startAtLatest` (a reader that only needs what happens from now on).
    public static func consumer(brokers: String, security: KafkaSecurity = .plaintext, group: String,
                                startAtLatest: Bool = false) -> KafkaConfiguration {
        KafkaConfiguration(brokers: brokers, security: security, [
            "group.id": group, "enable.auto.commit": "true", "auto.commit.interval.ms": "200",
            "enable.auto.offset.store": "false", "auto.offset.reset": startAtLatest ? "latest" : "earliest", "enable.partition.eof": "false",
            // A member that stops heartbeating loses its partitions within seconds, not the default 45 s. One whose
            // polls wait longer than max.poll.interval.ms for its batches to be processed (the ingestion's: two of up
            // to 20,000 commands) leaves the group and its batches go to another: at two minutes, only a member
            // processing fewer than ~170 commands a second does, the same margin 30 s gave batches of 5,000.
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "max.poll.interval.ms": "120000",
        ])
    }

    /// A librdkafka client of `type` on this configuration; `prepare` sets callbacks on the native configuration
    /// first. The configuration is consumed (freed by librdkafka, or here on failure).
    func makeClient(_ type: rd_kafka_type_t, prepare: (OpaquePointer) -> Void = { _ in }) throws(KafkaError) -> OpaquePointer {
        let conf = try makeNative()
        prepare(conf)
        var errorText = [CChar](repeating: 0, count: 512)
        guard let client = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: KafkaError.invalidConfiguration, message: String(nulTerminated: errorText))
        }
        return client
    }

    func makeNative() throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(code: KafkaError.invalidConfiguration, message: "\(key): \(String(nulTerminated: errorText))")
            }
        }
        return conf
    }
}
