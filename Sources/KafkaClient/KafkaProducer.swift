import CKafkaShim
import CRdKafka
import Foundation
public import ServiceLifecycle
import Synchronization

/// A producer with delivery reports, as a `Service`: `send` returns once the broker has acknowledged the message
/// (`acks=all`, idempotent), or throws the delivery error. Its thread serves librdkafka's callbacks; on graceful
/// shutdown it flushes what is in flight before it stops.
public final class KafkaProducer: Service, Sendable {
    let handle: KafkaHandle
    private let errors: ErrorSink
    private let poller: PollThread

    /// How long a shutdown waits for messages in flight before it frees the client (their delivery is then
    /// unknown: the outbox still holds them and sends them again).
    public let shutdownFlushMillis: Int32

    /// `onError` receives librdkafka's error callbacks (transient broker errors, and fatal ones).
    public init(configuration: KafkaConfiguration, shutdownFlushMillis: Int32 = 10_000,
                onError: @escaping @Sendable (KafkaError) -> Void = { _ in }) throws {
        self.shutdownFlushMillis = shutdownFlushMillis
        let errors = ErrorSink(onError)
        let rk = try configuration.makeClient(RD_KAFKA_PRODUCER) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
            rd_kafka_conf_set_error_cb(conf, errorCallback)
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(errors).toOpaque())
        }
        self.handle = KafkaHandle(rk)
        self.errors = errors
        // The poll thread holds the error sink too: a producer let go without `shutdown()` (a start that failed after
        // it was made) leaves the thread calling back into it, which must not be freed under it.
        self.poller = PollThread(name: "kafka-producer") { [handle, errors] in
            _ = errors
            _ = rd_kafka_poll(handle.pointer, 100)
        }
        poller.start()
    }

    /// Sends one message and waits for its delivery report.
    public func send(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) async throws -> KafkaDeliveryReport {
        guard !handle.isDestroyed else { throw KafkaError(code: KafkaError.shutDown, message: "producer is shut down") }
        return try await withCheckedThrowingContinuation { continuation in
            let box = Unmanaged.passRetained(DeliveryBox(continuation))
            var status = RD_KAFKA_RESP_ERR__DESTROY  // unless the producer is still alive
            handle.whileAlive { pointer in
                status = Self.produce(pointer, topic: topic, partition: partition ?? RD_KAFKA_PARTITION_UA, key: key, value: value,
                                      opaque: box.toOpaque())
            }
            if status != RD_KAFKA_RESP_ERR_NO_ERROR {
                box.release()
                continuation.resume(throwing: KafkaError(status))
            }
        }
    }

    /// Sends messages in the order given (so each partition receives them in that order; the idempotent producer keeps
    /// it through retries) and waits for every delivery report. Throws the first delivery error.
    public func sendBatch(_ messages: [(topic: String, key: [UInt8]?, value: [UInt8])]) async throws -> [KafkaDeliveryReport] {
        try await sendBatchSettled(messages).map { try $0.get() }
    }

    /// Sends the messages in order and answers each one's delivery report or failure, in the same order: a caller
    /// that retries sends again only what failed (resending what was delivered would duplicate it). If the calling
    /// task is cancelled, it stops waiting at once: messages without a report yet answer `KafkaError.cancelled`
    /// (they may still be delivered; librdkafka keeps them until `message.timeout.ms`).
    public func sendBatchSettled(_ messages: [(topic: String, key: [UInt8]?, value: [UInt8])]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        guard !handle.isDestroyed else {
            return messages.map { _ in .failure(KafkaError(code: KafkaError.shutDown, message: "producer is shut down")) }
        }
        let batch = BatchDelivery(count: messages.count)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                batch.attach(continuation)
                for (index, message) in messages.enumerated() {
                    let box = Unmanaged.passRetained(DeliveryBox(batch: batch, index: index))
                    var status = RD_KAFKA_RESP_ERR__DESTROY  // unless the producer is still alive
                    handle.whileAlive { pointer in
                        repeat {
                            status = Self.produce(pointer, topic: message.topic, partition: RD_KAFKA_PARTITION_UA, key: message.key,
                                                  value: message.value, opaque: box.toOpaque())
                            // The local queue is full: serve delivery reports until there is room.
                            if status == RD_KAFKA_RESP_ERR__QUEUE_FULL { _ = rd_kafka_poll(pointer, 10) }
                        } while status == RD_KAFKA_RESP_ERR__QUEUE_FULL
                    }
                    if status != RD_KAFKA_RESP_ERR_NO_ERROR {
                        box.release()
                        batch.complete(index, .failure(KafkaError(status)))
                    }
                }
            }
        } onCancel: {
            batch.cancel()
        }
    }

    /// Hands one message to librdkafka's queue (not yet the broker); `opaque` comes back with its delivery report.
    private static func produce(_ pointer: OpaquePointer, topic: String, partition: Int32, key: [UInt8]?, value: [UInt8],
                                opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        key.withUnsafeBufferPointer { keyBytes in
            value.withUnsafeBufferPointer { valueBytes in
                bazaar_kafka_produce(pointer, topic, partition, keyBytes.baseAddress, keyBytes.count, valueBytes.baseAddress, valueBytes.count, opaque)
            }
        }
    }

    /// Waits until every message in flight is delivered (or `timeoutMillis` passes).
    public func flush(timeoutMillis: Int32 = 10_000) {
        handle.whileAlive { _ = rd_kafka_flush($0, timeoutMillis) }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        // The flush blocks: on a thread of its own, not one of the few threads of the Swift concurrency pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                shutdown()
                continuation.resume()
            }
            thread.name = "kafka-producer-shutdown"
            thread.start()
        }
    }

    /// Flushes, stops the callback thread and frees the client (idempotent).
    public func shutdown() {
        // From here on sends fail (`_DESTROY`) instead of racing with the destruction; what was sent is flushed.
        guard handle.markDestroyed() else { return }
        _ = rd_kafka_flush(handle.pointer, shutdownFlushMillis)
        poller.stop()
        rd_kafka_destroy(handle.pointer)
    }
}

/// librdkafka's error callback; the opaque is the client's `ErrorSink`.
private let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    rk, code, reason, opaque in
    guard let opaque else { return }
    let sink = Unmanaged<ErrorSink>.fromOpaque(opaque).takeUnretainedValue()
    var error = KafkaError(code: code, message: reason.map { String(cString: $0) } ?? "")
    if code == RD_KAFKA_RESP_ERR__FATAL.rawValue, let rk {
        var text = [CChar](repeating: 0, count: 512)
        let original = rd_kafka_fatal_error(rk, &text, text.count)
        error = KafkaError(code: original.rawValue, message: String(nulTerminated: text), isFatal: true)
    }
    sink.handle(error)
}

extension Optional where Wrapped == [UInt8] {
    /// The bytes, or no buffer at all (a null pointer: librdkafka's "no key", unlike an empty one).
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch self {
        case .some(let bytes): bytes.withUnsafeBufferPointer(body)
        case .none: body(UnsafeBufferPointer(start: nil, count: 0))
        }
    }
}
