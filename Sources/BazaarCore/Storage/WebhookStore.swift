/// Webhook subscriptions and their deliveries: a queue per subscription, each attempt logged.
public protocol WebhookStore: Sendable {
    func insertWebhook(_ webhook: Webhook) async throws
    func webhooks() async throws -> [Webhook]
    /// Returns false when there is no such webhook.
    func deleteWebhook(id: String, atMillis: Int64) async throws -> Bool
    /// Queues an event for every given webhook (once per webhook and event id).
    func enqueueDeliveries(webhookIDs: [String], eventID: String, payload: String, atMillis: Int64) async throws
    func dueDeliveries(atMillis: Int64, limit: Int) async throws -> [WebhookDelivery]
    /// Logs an attempt and moves the delivery on: delivered, retried at `nextAttemptAtMillis`, or failed (nil).
    func recordAttempt(_ delivery: WebhookDelivery, atMillis: Int64, statusCode: Int?, error: String?, delivered: Bool,
                       nextAttemptAtMillis: Int64?) async throws
    func webhookAttempts(webhookID: String, limit: Int) async throws -> [WebhookAttempt]
}

/// The states of a queued webhook delivery, as stored (`webhook_deliveries.state`).
public enum WebhookDeliveryState: String, Sendable, CaseIterable {
    /// Waiting for its next attempt (`next_attempt_at_ms`).
    case pending
    /// The receiver answered 2xx.
    case delivered
    /// Out of attempts.
    case failed
    /// Its webhook was deleted before it was delivered.
    case cancelled

    /// The state a delivery moves to after an attempt.
    public static func after(delivered: Bool, nextAttemptAtMillis: Int64?) -> WebhookDeliveryState {
        delivered ? .delivered : nextAttemptAtMillis == nil ? .failed : .pending
    }
}

/// An alert subscription: events of the listed stores (all when empty) are POSTed to `url`, signed with `secret`.
public struct Webhook: Sendable, Equatable {
    public var id: String
    public var url: String
    public var secret: String
    public var stores: [String]
    public var createdAtMillis: Int64

    public init(id: String, url: String, secret: String, stores: [String], createdAtMillis: Int64) {
        self.id = id
        self.url = url
        self.secret = secret
        self.stores = stores
        self.createdAtMillis = createdAtMillis
    }
}

public struct WebhookDelivery: Sendable, Equatable {
    public var sequence: Int64
    public var webhookID: String
    public var url: String
    public var secret: String
    public var eventID: String
    public var payload: String
    /// Attempts made so far.
    public var attempts: Int

    public init(sequence: Int64, webhookID: String, url: String, secret: String, eventID: String, payload: String, attempts: Int) {
        self.sequence = sequence
        self.webhookID = webhookID
        self.url = url
        self.secret = secret
        self.eventID = eventID
        self.payload = payload
        self.attempts = attempts
    }
}

public struct WebhookAttempt: Sendable, Equatable {
    public var eventID: String
    public var attempt: Int
    public var atMillis: Int64
    public var statusCode: Int?
    public var error: String?

    public init(eventID: String, attempt: Int, atMillis: Int64, statusCode: Int?, error: String?) {
        self.eventID = eventID
        self.attempt = attempt
        self.atMillis = atMillis
        self.statusCode = statusCode
        self.error = error
    }
}

