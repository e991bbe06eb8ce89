import CRdKafka
import Foundation
import Synchronization

/// One librdkafka producer client: its native handle, the thread that serves its callbacks, and what those
/// callbacks report to. `KafkaProducer` replaces it with a fresh one when it stops delivering.
final class ProducerClient: Sendable {
    let handle: KafkaHandle
    let callbacks: ProducerCallbacks
    private let poller: PollThread

    init(configuration: KafkaConfiguration, onError: @escaping @Sendable (KafkaError) -> Void) throws(KafkaError) {
        // librdkafka's default `message.timeout.ms` is 300,000.
        let callbacks = ProducerCallbacks(timeoutMillis: Int64(configuration.properties["message.timeout.ms"] ?? "") ?? 300_000, onError)
        let rk = try configuration.makeClient(RD_KAFKA_PRODUCER) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
            rd_kafka_conf_set_error_cb(conf, producerErrorCallback)
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        }
        let handle = KafkaHandle(rk)
        self.handle = handle
        self.callbacks = callbacks
        // The poll thread holds the callbacks too: a client let go without `close` (a start that failed after it was
        // made) leaves the thread calling back into them, which must not be freed under it.
        self.poller = PollThread(name: "kafka-producer") {
            _ = callbacks
            _ = rd_kafka_poll(handle.pointer, 100)
        }
        poller.start()
    }

    /// Frees the client once (later calls return at once). Sends from here on fail with `_DESTROY`. It waits up to
    /// `flushMillis` for what is in flight (with `purgeFirst`, not at all: a client being replaced delivers nothing
    /// more), then drops what is still queued or in flight, each message with its delivery report (`_PURGE_QUEUE`,
    /// `_PURGE_INFLIGHT`: an in-flight one may still have been stored), so that no sender waits for a report that
    /// will never come.
    func close(flushMillis: Int32, purgeFirst: Bool = false) {
        guard handle.markDestroyed() else { return }
        if !purgeFirst { _ = rd_kafka_flush(handle.pointer, flushMillis) }
        _ = rd_kafka_purge(handle.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        _ = rd_kafka_flush(handle.pointer, 2_000)  // serves the purged messages' reports
        poller.stop()
        rd_kafka_destroy(handle.pointer)
    }
}

/// The target of one client's librdkafka callbacks (its opaque): errors go to `onError`; a fatal error, or a
/// delivery that timed out while nothing at all was delivered for as long, marks the client for replacement (a
/// partition whose broker is down times out while the others deliver: that client is not stuck).
final class ProducerCallbacks: Sendable {
    let onError: @Sendable (KafkaError) -> Void
    /// Set from librdkafka's thread; read before each send.
    let needsReplacing = Atomic(false)
    /// Why it needs replacing (the first reason seen).
    let reason = Mutex<KafkaError?>(nil)
    /// When a message was last delivered (or the client made), in monotonic milliseconds.
    private let lastDelivery = Atomic<Int64>(ProducerCallbacks.nowMillis())

    /// `message.timeout.ms`: how long a message may wait for its delivery.
    let timeoutMillis: Int64

    init(timeoutMillis: Int64, _ onError: @escaping @Sendable (KafkaError) -> Void) {
        self.timeoutMillis = timeoutMillis
        self.onError = onError
    }

    static func nowMillis() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    func delivered() { lastDelivery.store(Self.nowMillis(), ordering: .relaxed) }

    /// A delivery timed out: the client is replaced if nothing was delivered for as long.
    func timedOut(_ error: KafkaError) {
        if Self.nowMillis() - lastDelivery.load(ordering: .relaxed) >= timeoutMillis { markForReplacement(error) }
    }

    func markForReplacement(_ why: KafkaError) {
        reason.withLock { if $0 == nil { $0 = why } }
        needsReplacing.store(true, ordering: .releasing)
    }
}

/// librdkafka's error callback for a producer; the opaque is its `ProducerCallbacks`. A fatal error (the idempotent
/// producer's state cannot be recovered, e.g. a sequence gap the broker refuses) is explained, and the client marked.
private let producerErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    rk, code, reason, opaque in
    guard let opaque else { return }
    let callbacks = Unmanaged<ProducerCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    var error = KafkaError(code: code, message: reason.map { String(cString: $0) } ?? "")
    if code == RD_KAFKA_RESP_ERR__FATAL.rawValue, let rk {
        var text = [CChar](repeating: 0, count: 512)
        let original = rd_kafka_fatal_error(rk, &text, text.count)
        error = KafkaError(code: original.rawValue, message: String(nulTerminated: text), isFatal: true)
        callbacks.markForReplacement(error)
    }
    callbacks.onError(error)
}
