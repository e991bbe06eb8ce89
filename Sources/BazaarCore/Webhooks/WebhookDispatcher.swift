import BazaarDomain
import Crypto
import Foundation
public import Logging
public import ServiceLifecycle

/// Delivers alert events to webhooks: queues each event for the subscriptions of its store, then POSTs due
/// deliveries, retrying failures with exponential backoff (base x 2^attempt, at most an hour) up to `maxAttempts`,
/// and logs every attempt.
///
/// Deliveries run side by side: up to `maxConcurrent` in all and `maxPerWebhook` per webhook, each given up at
/// `timeout` (connection, TLS, request and answer together). A slow or dead endpoint therefore occupies at most
/// its own slots for at most `timeout` per attempt, and every other webhook keeps being served.
public struct WebhookDispatcher<Events: AsyncSequence & Sendable>: Service where Events.Element == OutboundEvent, Events.Failure == Never {
    let events: Events
    let store: any WebhookStore
    let transport: any WebhookTransport
    let sealer: WebhookSecretSealer
    let clock: WallClock
    let logger: Logger
    let retryBase: Duration
    let maxAttempts: Int
    let pollInterval: Duration
    let timeout: Duration
    let maxConcurrent: Int
    let maxPerWebhook: Int

    public init(events: Events, store: any WebhookStore, transport: any WebhookTransport, sealer: WebhookSecretSealer, clock: WallClock = .system,
                logger: Logger, retryBase: Duration = .seconds(1), maxAttempts: Int = 10, pollInterval: Duration = .milliseconds(250),
                timeout: Duration = .seconds(10), maxConcurrent: Int = 64, maxPerWebhook: Int = 4) {
        self.events = events
        self.store = store
        self.transport = transport
        self.sealer = sealer
        self.clock = clock
        self.logger = logger
        self.retryBase = retryBase
        self.maxAttempts = maxAttempts
        self.pollInterval = pollInterval
        self.timeout = timeout
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxPerWebhook = max(1, maxPerWebhook)
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await enqueueLoop() }
            // Deliveries in flight are abandoned at once on shutdown, never waited for (a receiver may take the
            // whole deadline): an attempt not recorded is made again after the next start.
            group.addTask { _ = await cancelWhenGracefulShutdown { await deliveryLoop() } }
            await group.waitForAll()
        }
    }

    private func enqueueLoop() async {
        // The subscription list, re-read at most every two seconds rather than for every event.
        var subscriptions: (webhooks: [Webhook], readAtMillis: Int64)?
        for await event in events.cancelOnGracefulShutdown() {
            do {
                let now = clock.nowMillis()
                if subscriptions == nil || now - subscriptions!.readAtMillis > 2000 { subscriptions = (try await store.webhooks(), now) }
                let targets = subscriptions!.webhooks.filter { $0.stores.isEmpty || $0.stores.contains(event.key) }.map(\.id)
                try await store.enqueueDeliveries(webhookIDs: targets, eventID: event.id, payload: event.payload, atMillis: clock.nowMillis())
            } catch {
                logger.warning("could not queue webhook deliveries", metadata: ["event_id": "\(event.id)", "error": "\(error)"])
            }
        }
    }

    /// Deliveries being attempted now: by sequence (a due delivery is listed again by every poll until its
    /// attempt is recorded) and how many per webhook.
    struct InFlight {
        var sequences: Set<Int64> = []
        var perWebhook: [String: Int] = [:]

        mutating func start(_ delivery: WebhookDelivery, maxConcurrent: Int, maxPerWebhook: Int) -> Bool {
            guard sequences.count < maxConcurrent, !sequences.contains(delivery.sequence),
                perWebhook[delivery.webhookID, default: 0] < maxPerWebhook
            else { return false }
            sequences.insert(delivery.sequence)
            perWebhook[delivery.webhookID, default: 0] += 1
            return true
        }

        mutating func finish(_ delivery: WebhookDelivery) {
            sequences.remove(delivery.sequence)
            perWebhook[delivery.webhookID, default: 1] -= 1
            if perWebhook[delivery.webhookID] == 0 { perWebhook[delivery.webhookID] = nil }
        }
    }

    private func deliveryLoop() async {
        let inFlight = Locked(InFlight())
        // Deliveries are children of this group, so shutdown waits for the attempts under way (each bounded by
        // `timeout`) and records them.
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                do {
                    // A wide window, so the backlog of one webhook (whose slots are full) does not hide the others.
                    for delivery in try await store.dueDeliveries(atMillis: clock.nowMillis(), limit: 1000)
                    where inFlight.withLock({ $0.start(delivery, maxConcurrent: maxConcurrent, maxPerWebhook: maxPerWebhook) }) {
                        group.addTask {
                            await deliver(delivery)
                            inFlight.withLock { $0.finish(delivery) }
                        }
                    }
                } catch {
                    logger.warning("webhook delivery loop failed", metadata: ["error": "\(error)"])
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
            }
        }
    }

    func deliver(_ delivery: WebhookDelivery) async {
        let now = clock.nowMillis()
        var status: Int?
        var failure: String?
        do {
            let secret = try sealer.open(delivery.secret, webhookID: delivery.webhookID)
            let headers = [
                ("Content-Type", "application/cloudevents+json"), ("Bazaar-Event-Id", delivery.eventID),
                ("Bazaar-Signature", WebhookService.signature(secret: secret, timestamp: now / 1000, body: delivery.payload)),
            ]
            status = try await transport.post(url: delivery.url, headers: headers, body: delivery.payload, deadline: .now + timeout)
        } catch let known as WebhookFailure {
            failure = known.description
        } catch {
            // Anything else is summarised too: the text of a network error is not for the webhook's owner.
            logger.debug("webhook transport error", metadata: ["webhook_id": "\(delivery.webhookID)", "error": "\(error)"])
            failure = WebhookFailure.connectionFailed.description
        }
        let delivered = status.map { (200..<300).contains($0) } ?? false
        let attempts = delivery.attempts + 1
        let backoff = retryBase * (1 << min(attempts - 1, 20))
        let delayMillis = min(3_600_000, backoff.components.seconds * 1000 + backoff.components.attoseconds / 1_000_000_000_000_000)
        let next: Int64? = delivered || attempts >= maxAttempts ? nil : now + delayMillis
        if !delivered {
            logger.info("webhook delivery failed", metadata: [
                "webhook_id": "\(delivery.webhookID)", "event_id": "\(delivery.eventID)", "attempt": "\(attempts)",
                "status": "\(status.map(String.init) ?? "none")", "error": "\(failure ?? "")",
            ])
        }
        do {
            try await store.recordAttempt(delivery, atMillis: now, statusCode: status, error: failure ?? (delivered ? nil : "http \(status ?? 0)"),
                                          delivered: delivered, nextAttemptAtMillis: next)
        } catch {
            logger.warning("could not record a webhook attempt", metadata: ["error": "\(error)"])
        }
    }
}
