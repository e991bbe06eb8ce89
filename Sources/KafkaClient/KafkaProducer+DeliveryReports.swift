import CRdKafka
import Synchronization

/// Where a message was stored.
public struct KafkaDeliveryReport: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
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

/// Delivery reports reach Swift here (on the poll thread): the message's opaque is the `DeliveryBox` retained by
/// `send`; the client's is its `ProducerCallbacks`, told of deliveries and of timeouts (which may mark the client for
/// replacement).
let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, clientOpaque in
    guard let message, let opaque = message.pointee._private else { return }
    let box = Unmanaged<DeliveryBox>.fromOpaque(opaque).takeRetainedValue()
    let callbacks = clientOpaque.map { Unmanaged<ProducerCallbacks>.fromOpaque($0).takeUnretainedValue() }
    if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        callbacks?.delivered()
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        box.complete(.success(KafkaDeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
    } else {
        let error = KafkaError(message.pointee.err)
        // Marked before the sender hears of it: its retry already goes through a fresh client.
        if message.pointee.err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT {
            callbacks?.timedOut(error)
        }
        box.complete(.failure(error))
    }
}
