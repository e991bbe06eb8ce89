import CRdKafka

extension KafkaAdmin {
    /// Asks the cluster for its brokers (`host:port` each), which proves the bootstrap servers can be reached and
    /// speak Kafka: what `bazaar doctor` reports. librdkafka's own log lines are silenced (`log_level` 0): a broker
    /// that cannot be reached is this call's error, not noise on standard error.
    public static func clusterBrokers(brokers: String, timeoutMillis: Int32 = 5000) throws(KafkaError) -> [String] {
        let rk = try KafkaConfiguration(brokers: brokers, ["log_level": "0"]).makeClient(RD_KAFKA_PRODUCER)
        defer { rd_kafka_destroy(rk) }
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
