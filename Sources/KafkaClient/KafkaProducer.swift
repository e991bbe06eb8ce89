import CKafkaShim
import CRdKafka
import Foundation
public import ServiceLifecycle
import Synchronization

/// A producer with delivery reports, as a `Service`: `send` returns once the broker has acknowledged the message
/// (`acks=all`, idempotent), or throws the delivery error. A thread serves librdkafka's callbacks; on graceful
/// shutdown it flushes what is in flight before it stops.
///
/// It heals itself: after a fatal error, or a delivery that timed out (`message.timeout.ms`) while the client
/// delivered nothing else for as long, the next send goes through a fresh librdkafka client (new connections,
/// metadata and idempotent producer id), and the old one is closed in the background, what it still held reported
/// failed. A client can stay stuck after a broker
/// restart, timing out every message with the broker back up (librdkafka issues 3009 and 3189, confluent-kafka-go 528:
/// "fixed by restarting the process"); after a fatal error a client never delivers again.
public final class KafkaProducer: Service, Sendable {
    private let configuration: KafkaConfiguration
    private let onError: @Sendable (KafkaError) -> Void
    /// The client sends go through; nil once shut down.
    private let current: Mutex<ProducerClient?>
    private let replacements = Atomic(0)

    /// How long a shutdown waits for messages in flight before it frees the client (their delivery is then
    /// unknown: the outbox still holds them and sends them again).
    public let shutdownFlushMillis: Int32

    /// `onError` receives librdkafka's error callbacks (transient broker errors, and fatal ones), and a
    /// `KafkaError.clientReplaced` each time the client is replaced.
    public init(configuration: KafkaConfiguration, shutdownFlushMillis: Int32 = 10_000,
                onError: @escaping @Sendable (KafkaError) -> Void = { _ in }) throws {
        self.configuration = configuration
        self.onError = onError
        self.shutdownFlushMillis = shutdownFlushMillis
        current = Mutex(try ProducerClient(configuration: configuration, onError: onError))
    }

    /// How many times the client was replaced by a fresh one.
    public var clientsReplaced: Int { replacements.load(ordering: .relaxed) }

    /// Messages handed to the current client and not yet reported (`rd_kafka_outq_len`: queued, in flight, or
    /// reports not yet served).
    public var messagesInFlight: Int {
        var count: Int32 = 0
        current.withLock { $0 }?.handle.whileAlive { count = rd_kafka_outq_len($0) }
        return Int(count)
    }

    /// Replaces the client by a fresh one now, whatever its state; what the old one still holds fails with a purge
    /// error (`_PURGE_QUEUE`, or `_PURGE_INFLIGHT`: possibly stored). Sends do it themselves when it is needed.
    public func replaceClient() {
        current.withLock { $0?.callbacks.markForReplacement(KafkaError(code: KafkaError.clientReplaced, message: "replaced on request")) }
        _ = try? client()
    }

    /// The client to send through: a fresh one if the current one is marked for replacement.
    private func client() throws(KafkaError) -> ProducerClient {
        let (client, retired) = try current.withLock { current throws(KafkaError) -> (ProducerClient, ProducerClient?) in
            guard let client = current else { throw KafkaError(code: KafkaError.shutDown, message: "producer is shut down") }
            guard client.callbacks.needsReplacing.load(ordering: .acquiring),
                  let fresh = try? ProducerClient(configuration: configuration, onError: onError) else { return (client, nil) }
            current = fresh
            return (fresh, client)
        }
        if let retired {
            replacements.add(1, ordering: .relaxed)
            let why = retired.callbacks.reason.withLock { $0 }
            onError(KafkaError(code: KafkaError.clientReplaced, message: "replaced the producer's client by a fresh one after: \(why.map { "\($0)" } ?? "a request")"))
            // Closing waits on librdkafka: on a thread of its own, not one of the Swift concurrency pool's.
            let thread = Thread { retired.close(flushMillis: 0, purgeFirst: true) }
            thread.name = "kafka-producer-retire"
            thread.start()
        }
        return client
    }

    /// Sends one message and waits for its delivery report.
    public func send(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) async throws -> KafkaDeliveryReport {
        let handle = try client().handle
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
        let handle: KafkaHandle
        do { handle = try client().handle } catch { return messages.map { _ in .failure(error) } }
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
        current.withLock { $0 }?.handle.whileAlive { _ = rd_kafka_flush($0, timeoutMillis) }
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

    /// Flushes, stops the callback thread and frees the client (idempotent). From here on sends fail
    /// (`KafkaError.shutDown`, or `_DESTROY` for one racing with it); what was sent is flushed, and what the flush
    /// could not deliver in `shutdownFlushMillis` is reported failed (purged).
    public func shutdown() {
        current.withLock { current in
            defer { current = nil }
            return current
        }?.close(flushMillis: shutdownFlushMillis)
    }
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
