import BazaarCore
import BazaarDomain

/// A webhook subscription; `secret` only in the answer that created it (shown once).
struct WebhookAnswer: Encodable {
    var id: String
    var url: String
    var stores: [String]
    var createdAt: String
    var secret: String?

    enum CodingKeys: String, CodingKey { case id, url, stores, createdAt = "created_at", secret }

    init(_ w: Webhook, showingSecret: Bool = false) {
        id = w.id
        url = w.url
        stores = w.stores
        createdAt = RFC3339.format(millis: w.createdAtMillis)
        secret = showingSecret ? w.secret : nil
    }
}

/// One delivery attempt of a webhook: the receiver's status code or the transport's error (the other null).
struct WebhookAttemptAnswer: Encodable {
    var attempt: WebhookAttempt

    enum CodingKeys: String, CodingKey { case eventID = "event_id", attempt, at, statusCode = "status_code", error }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attempt.eventID, forKey: .eventID)
        try c.encode(attempt.attempt, forKey: .attempt)
        try c.encode(RFC3339.format(millis: attempt.atMillis), forKey: .at)
        try c.encode(attempt.statusCode, forKey: .statusCode)
        try c.encode(attempt.error, forKey: .error)
    }
}
