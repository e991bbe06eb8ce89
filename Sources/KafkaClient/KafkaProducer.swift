import CKafkaShim
import CRdKafka
import Foundation
public import ServiceLifecycle
import Synchronization

/// Where a message was stored.
public struct KafkaDeliveryReport: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A producer with delivery reports, as a `Service`: `send` returns once the broker has acknowledged the message
/// (`acks=all`, idempotent), or throws the delivery error. Its thread serves librdkafka's callbacks; on graceful
/// shutdown it flushes what is in flight before it stops.
public final class KafkaProducer: Service, Sendable {
    let handle: KafkaHandle
    private let errors: ErrorSink
    private let poller: PollThread

    /// `onError` receives librdkafka's error callbacks (transient broker errors, and fatal ones).
    /// How long a shutdown waits for messages in flight before it frees the client (their delivery is then
    /// unknown: the outbox still holds them and sends them again).
    public let shutdownFlushMillis: Int32

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
        self.poller = PollThread(name: "kafka-producer") { [handle] in _ = rd_kafka_poll(handle.pointer, 100) }
        poller.start()
    }

    /// Sends one message and waits for its delivery report.
    public func send(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) async throws -> KafkaDeliveryReport {
        guard !handle.isDestroyed else { throw KafkaError(code: KafkaError.shutDown, message: "producer is shut down") }
        return try await withCheckedThrowingContinuation { continuation in
            let box = Unmanaged.passRetained(DeliveryBox(continuation))
            var status = RD_KAFKA_RESP_ERR__DESTROY  // unless the producer is still alive
            handle.whileAlive { pointer in
                status = key.withUnsafeBufferPointer(or: []) { keyBytes in
                    value.withUnsafeBufferPointer { valueBytes in
                        bazaar_kafka_produce(pointer, topic, partition ?? RD_KAFKA_PARTITION_UA, keyBytes.baseAddress, keyBytes.count,
                                             valueBytes.baseAddress, valueBytes.count, box.toOpaque())
                    }
                }
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
                            status = message.key.withUnsafeBufferPointer(or: []) { keyBytes in
                                message.value.withUnsafeBufferPointer { valueBytes in
                                    bazaar_kafka_produce(pointer, message.topic, RD_KAFKA_PARTITION_UA, keyBytes.baseAddress, keyBytes.count,
                                                         valueBytes.baseAddress, valueBytes.count, box.toOpaque())
                                }
                            }
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

/// A `rd_kafka_t *`, shared across threads (librdkafka's client is thread-safe).
final class KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    private let destroyed = Mutex(false)

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    var isDestroyed: Bool { destroyed.withLock { $0 } }

    /// Returns true for the one caller that gets to destroy it, once no `whileAlive` call is running.
    func markDestroyed() -> Bool {
        destroyed.withLock { destroyed in
            if destroyed { return false }
            destroyed = true
            return true
        }
    }

    /// Runs `body` unless the handle is (being) destroyed; the destroyer waits for it to finish.
    func whileAlive(_ body: (OpaquePointer) -> Void) {
        destroyed.withLock { destroyed in
            if !destroyed { body(pointer) }
        }
    }
}

/// A thread that calls `body` until stopped (librdkafka needs its callbacks served from some thread).
final class PollThread: Sendable {
    private let running = Atomic(false)
    private let done = Mutex<Bool>(false)
    private let name: String
    private let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    func start() {
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) { body() }
            done.withLock { $0 = true }
        }
        thread.name = name
        thread.start()
    }

    /// Stops after the current call and waits for it.
    func stop() {
        running.store(false, ordering: .releasing)
        while !done.withLock({ $0 }) { usleep(1000) }
    }
}

/// What a delivery report completes, passed through librdkafka as the message's opaque: one `send`, or one
/// message of a `sendBatch`.
final class DeliveryBox {
    let single: CheckedContinuation<KafkaDeliveryReport, any Error>?
    let batch: BatchDelivery?
    let index: Int

    init(_ continuation: CheckedContinuation<KafkaDeliveryReport, any Error>) {
        single = continuation
        batch = nil
        index = 0
    }

    init(batch: BatchDelivery, index: Int) {
        single = nil
        self.batch = batch
        self.index = index
    }

    func complete(_ result: Result<KafkaDeliveryReport, KafkaError>) {
        if let single { single.resume(with: result.mapError { $0 as any Error }) }
        batch?.complete(index, result)
    }
}

/// Collects the reports of a batch; resumes its caller when the last one arrives, or at once when the caller is
/// cancelled (reports arriving after that are dropped).
final class BatchDelivery: Sendable {
    private struct State {
        var results: [Result<KafkaDeliveryReport, KafkaError>?]
        var remaining: Int
        var continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>?
        /// The caller has been (or, once attached, must at once be) resumed.
        var finished = false
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count))
    }

    func attach(_ continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>) {
        let resumeNow: [Result<KafkaDeliveryReport, KafkaError>]? = state.withLock { state in
            guard state.finished else {
                state.continuation = continuation
                return nil
            }
            return Self.settled(state.results)
        }
        if let resumeNow { continuation.resume(returning: resumeNow) }
    }

    func complete(_ index: Int, _ result: Result<KafkaDeliveryReport, KafkaError>) {
        let resume: (CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>, [Result<KafkaDeliveryReport, KafkaError>])? =
            state.withLock { state in
                guard !state.finished else { return nil }
                state.results[index] = result
                state.remaining -= 1
                guard state.remaining == 0, let continuation = state.continuation else { return nil }
                state.finished = true
                state.continuation = nil
                return (continuation, Self.settled(state.results))
            }
        if let (continuation, results) = resume { continuation.resume(returning: results) }
    }

    func cancel() {
        let resume: (CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>, [Result<KafkaDeliveryReport, KafkaError>])? =
            state.withLock { state in
                guard !state.finished else { return nil }
                state.finished = true
                guard let continuation = state.continuation else { return nil }  // resumed by `attach`
                state.continuation = nil
                return (continuation, Self.settled(state.results))
            }
        if let (continuation, results) = resume { continuation.resume(returning: results) }
    }

    private static func settled(_ results: [Result<KafkaDeliveryReport, KafkaError>?]) -> [Result<KafkaDeliveryReport, KafkaError>] {
        results.map { $0 ?? .failure(KafkaError(code: KafkaError.cancelled, message: "stopped waiting for the delivery report")) }
    }
}

final class ErrorSink: Sendable {
    let handle: @Sendable (KafkaError) -> Void
    init(_ handle: @escaping @Sendable (KafkaError) -> Void) { self.handle = handle }
}

/// Delivery reports reach Swift here (on the poll thread): the opaque is the `DeliveryBox` retained by `send`.
private let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let box = Unmanaged<DeliveryBox>.fromOpaque(opaque).takeRetainedValue()
    if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        box.complete(.success(KafkaDeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
    } else {
        box.complete(.failure(KafkaError(message.pointee.err)))
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
    func withUnsafeBufferPointer<R>(or empty: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch self {
        case .some(let bytes): bytes.withUnsafeBufferPointer(body)
        case .none: body(UnsafeBufferPointer(start: nil, count: 0))
        }
    }
}
