import CRdKafka
import Synchronization

extension KafkaAdmin {
    /// Asks the cluster for its brokers (`host:port` each), which proves the bootstrap servers can be reached and
    /// speak Kafka: what `bazaar doctor` reports. librdkafka's own log lines are silenced (`log_level` 0): a broker
    /// that cannot be reached is this call's error, not noise on standard error.
    public static func clusterBrokers(brokers: String, security: KafkaSecurity = .plaintext, timeoutMillis: Int32 = 5000) throws(KafkaError) -> [String] {
        try withClient(KafkaConfiguration(brokers: brokers, security: security, ["log_level": "0"])) { rk throws(KafkaError) in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let error = rd_kafka_metadata(rk, 0, nil, &metadata, timeoutMillis)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(error) }
            defer { rd_kafka_metadata_destroy(metadata) }
            return (0..<Int(metadata.pointee.broker_cnt)).map { index in
                let broker = metadata.pointee.brokers[index]
                return "\(broker.host.map { String(cString: $0) } ?? "?"):\(broker.port)"
            }
        }
    }

    /// Runs one administrative request on a short-lived client. A failure is explained with what librdkafka's error
    /// callback said meanwhile: a refused TLS handshake or SASL login is reported there, while the request itself
    /// only times out or says "transport failure".
    static func withClient<T>(_ configuration: KafkaConfiguration, _ body: (OpaquePointer) throws(KafkaError) -> T) throws(KafkaError) -> T {
        let reported = Mutex<[KafkaError]>([])
        let sink = ErrorSink { error in reported.withLock { $0.append(error) } }
        let rk = try configuration.makeClient(RD_KAFKA_PRODUCER) { conf in
            rd_kafka_conf_set_error_cb(conf, errorSinkCallback)
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(sink).toOpaque())
        }
        defer {
            rd_kafka_destroy(rk)
            withExtendedLifetime(sink) {}
        }
        do {
            return try body(rk)
        } catch {
            _ = rd_kafka_poll(rk, 0)  // serves the error callbacks queued meanwhile
            let reasons = reported.withLock { $0 }
            let reason = reasons.first { $0.code != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue } ?? reasons.first
            guard let reason, !error.message.contains(reason.message) else { throw error }
            throw KafkaError(code: error.code, message: "\(error.message): \(reason.message)", isFatal: error.isFatal)
        }
    }
}
