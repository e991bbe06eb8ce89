import CRdKafka
import Foundation
public import ServiceLifecycle
import Synchronization

public struct KafkaMessage: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    /// The message's timestamp (producer create time or broker log-append time), when the broker has one.
    public var timestampMillis: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestampMillis: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestampMillis = timestampMillis
    }

    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    public var valueString: String { String(decoding: value, as: UTF8.self) }
}

/// Messages polled together. Their offsets are stored (and then committed) only by `commit()`, after processing;
/// the consumer polls on only then (or, with a lookahead, once fewer batches than that wait behind the oldest
/// uncommitted one), so a batch is never lost and processing paces the consumer.
public final class KafkaBatch: Sendable {
    public let messages: [KafkaMessage]
    private let handle: KafkaHandle
    private let released: @Sendable () -> Void

    init(messages: [KafkaMessage], handle: KafkaHandle, released: @escaping @Sendable () -> Void) {
        self.messages = messages
        self.handle = handle
        self.released = released
    }

    /// Stores the offset after each partition's last message, and lets the consumer poll on. Batches are committed
    /// in the order they were delivered: a later batch's offsets stored first would pass over an earlier one.
    public func commit() {
        defer { released() }
        var last: [String: (topic: String, partition: Int32, offset: Int64)] = [:]
        for message in messages {
            let key = "\(message.topic)/\(message.partition)"
            if (last[key]?.offset ?? -1) < message.offset { last[key] = (message.topic, message.partition, message.offset) }
        }
        let list = rd_kafka_topic_partition_list_new(Int32(last.count))!
        for entry in last.values {
            rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition).pointee.offset = entry.offset + 1
        }
        // Not while the consumer is being closed (it may already be gone: then these offsets are simply not stored).
        handle.whileAlive { rd_kafka_offsets_store($0, list) }
        rd_kafka_topic_partition_list_destroy(list)
    }
}

/// A consumer in a consumer group, as a `Service`: `batches` is an `AsyncSequence` of polled batches. Run it in the
/// service group; on graceful shutdown it stops polling, commits what was stored and leaves the group (its
/// partitions go to the other members).
///
/// `lookahead` is how many batches it may poll beyond the oldest uncommitted one: 0 (one batch at a time), or 1 for
/// a reader that prepares the next batch while it processes the current one. A batch polled ahead and never
/// committed is simply delivered again (its offsets were never stored), like any uncommitted batch.
public final class KafkaConsumer: Service, Sendable {
    public let batches: AsyncStream<KafkaBatch>
    private let continuation: AsyncStream<KafkaBatch>.Continuation
    private let handle: KafkaHandle
    private let errors: ErrorSink
    private let maxBatch: Int
    private let stopping = Atomic(false)
    /// One credit a batch the consumer may poll while others wait uncommitted.
    private let released: DispatchSemaphore
    /// The timestamp of each delivered, uncommitted batch's oldest message, oldest batch first (at most
    /// `lookahead` + 1 of them).
    private let pendingOldestMillis = Mutex<[(batch: Int, millis: Int64)]>([])

    public init(configuration: KafkaConfiguration, topics: [String], maxBatch: Int = 500, lookahead: Int = 0,
                onError: @escaping @Sendable (KafkaError) -> Void = { _ in }) throws {
        precondition(lookahead >= 0, "a lookahead is a count of batches")
        let errors = ErrorSink(onError)
        let rk = try configuration.makeClient(RD_KAFKA_CONSUMER) { conf in
            rd_kafka_conf_set_error_cb(conf, errorSinkCallback)
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(errors).toOpaque())
        }
        rd_kafka_poll_set_consumer(rk)
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let status = rd_kafka_subscribe(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        guard status == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(rk)
            throw KafkaError(status)
        }
        self.handle = KafkaHandle(rk)
        self.errors = errors
        self.maxBatch = maxBatch
        // Made at 0 and given its credits after: libdispatch traps when a semaphore is freed below the value it was
        // made with, which a consumer stopped with batches uncommitted would be.
        self.released = DispatchSemaphore(value: 0)
        for _ in 0..<lookahead { released.signal() }
        (batches, continuation) = AsyncStream.makeStream(of: KafkaBatch.self)
    }

    public func run() async throws {
        let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let thread = Thread { [self] in
            pollLoop()
            finished.withLock { $0?.resume(); $0 = nil }
        }
        thread.name = "kafka-consumer"
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            finished.withLock { $0 = done }
            thread.start()
            Task {
                try? await gracefulShutdown()
                self.stop()
            }
        }
    }

    /// How far behind the newest messages this consumer is, in time: the age of the oldest message it polled and
    /// has not committed yet; 0 when nothing polled waits. Unlike offset lag it needs no call to the broker and
    /// means the same on every topic.
    public func lagSeconds(nowMillis: Int64) -> Double {
        guard let oldest = pendingOldestMillis.withLock({ $0.first?.millis }) else { return 0 }
        return Double(max(0, nowMillis - oldest)) / 1000
    }

    /// Whether `stop()` was called: a batch not begun by then is better left to the group's next member.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Stops polling (the current batch may still commit), leaves the group, frees the client.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        released.signal()
    }

    /// A batch gives its credit back once, however often it is committed.
    private func release(batch number: Int) {
        let pending = pendingOldestMillis.withLock { pending in
            pending.firstIndex { $0.batch == number }.map { pending.remove(at: $0) } != nil
        }
        if pending { released.signal() }
    }

    private func pollLoop() {
        var polled = 0
        while !stopping.load(ordering: .acquiring) {
            var messages: [KafkaMessage] = []
            var timeout: Int32 = 100
            while messages.count < maxBatch, let raw = rd_kafka_consumer_poll(handle.pointer, timeout) {
                timeout = 0
                defer { rd_kafka_message_destroy(raw) }
                let message = raw.pointee
                if message.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    errors.handle(KafkaError(message.err))
                    continue
                }
                let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
                let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) }
                let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                let timestamp = rd_kafka_message_timestamp(raw, &timestampType)
                messages.append(KafkaMessage(topic: topic, partition: message.partition, offset: message.offset, key: key, value: value,
                                             timestampMillis: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || timestamp < 0 ? nil : timestamp))
            }
            if messages.isEmpty { continue }
            let oldest = messages.compactMap(\.timestampMillis).min() ?? Int64(Date().timeIntervalSince1970 * 1000)
            polled += 1
            let number = polled
            pendingOldestMillis.withLock { $0.append((number, oldest)) }
            continuation.yield(KafkaBatch(messages: messages, handle: handle) { [self] in release(batch: number) })
            released.wait()
        }
        continuation.finish()
        if handle.markDestroyed() {
            rd_kafka_consumer_close(handle.pointer)  // commits stored offsets and leaves the group
            rd_kafka_destroy(handle.pointer)
        }
    }
}

/// Topic administration.
public enum KafkaAdmin {
    /// Creates topics with the given partition counts (replication factor: the broker's default); existing topics
    /// are left as they are.
    public static func createTopics(brokers: String, security: KafkaSecurity = .plaintext, _ topics: [(name: String, partitions: Int32)],
                                    timeoutMillis: Int32 = 10_000) throws(KafkaError) {
        try withClient(KafkaConfiguration(brokers: brokers, security: security)) { rk throws(KafkaError) in
            var errorText = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = try topics.map { topic throws(KafkaError) in
                guard let created = rd_kafka_NewTopic_new(topic.name, topic.partitions, -1, &errorText, errorText.count) else {
                    throw KafkaError(code: KafkaError.invalidConfiguration, message: String(nulTerminated: errorText))
                }
                return created
            }
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            let queue = rd_kafka_queue_new(rk)
            defer { rd_kafka_queue_destroy(queue) }
            rd_kafka_CreateTopics(rk, &newTopics, newTopics.count, nil, queue)
            guard let event = rd_kafka_queue_poll(queue, timeoutMillis) else {
                throw KafkaError(code: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue, message: "topic creation timed out")
            }
            defer { rd_kafka_event_destroy(event) }
            if rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(rd_kafka_event_error(event)) }
            guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
            for index in 0..<count {
                let error = rd_kafka_topic_result_error(results[index])
                if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                    throw KafkaError(code: error.rawValue, message: String(cString: rd_kafka_topic_result_error_string(results[index])))
                }
            }
        }
    }
}
