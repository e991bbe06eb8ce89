import CRdKafka
import Foundation
import Synchronization

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

/// Where librdkafka's error callback reports, passed through the client's opaque (the consumer's and the admin
/// client's; the producer's opaque is its `ProducerCallbacks`, which also hears of deliveries).
final class ErrorSink: Sendable {
    let handle: @Sendable (KafkaError) -> Void
    init(_ handle: @escaping @Sendable (KafkaError) -> Void) { self.handle = handle }
}

/// librdkafka's error callback for a client whose opaque is an `ErrorSink` (the producer's own, in
/// `KafkaProducer+Client.swift`, also explains fatal errors and marks its client for replacement).
let errorSinkCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    _, code, reason, opaque in
    guard let opaque else { return }
    Unmanaged<ErrorSink>.fromOpaque(opaque).takeUnretainedValue().handle(KafkaError(code: code, message: reason.map { String(cString: $0) } ?? ""))
}
