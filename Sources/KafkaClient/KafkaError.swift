import CRdKafka

/// One error type: librdkafka's error code (`rd_kafka_resp_err_t`) and its message.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Int32
    public var message: String
    /// librdkafka reported it as fatal: the client instance cannot be used any more.
    public var isFatal: Bool

    public init(code: Int32, message: String, isFatal: Bool = false) {
        self.code = code
        self.message = message
        self.isFatal = isFatal
    }

    init(_ error: rd_kafka_resp_err_t) {
        self.init(code: error.rawValue, message: String(cString: rd_kafka_err2str(error)))
    }

    public var description: String { "Kafka error \(code)\(isFatal ? " (fatal)" : ""): \(message)" }

    /// Not a librdkafka code: a configuration property was refused.
    public static let invalidConfiguration: Int32 = -10_001
    /// Not a librdkafka code: the client is shut down.
    public static let shutDown: Int32 = -10_002
    /// The caller stopped waiting (its task was cancelled); the message may still be delivered.
    public static let cancelled: Int32 = -10_003
    /// Not a librdkafka code: the producer replaced its librdkafka client by a fresh one (reported to `onError`).
    public static let clientReplaced: Int32 = -10_004
}

extension String {
    /// The text librdkafka wrote into an error buffer (up to its NUL).
    init(nulTerminated buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
