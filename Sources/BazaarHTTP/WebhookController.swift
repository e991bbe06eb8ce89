import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

struct WebhookBody: Decodable {
    var url: String
    var stores: [String]

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["url", "stores"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        url = try c.decode(String.self, forKey: AnyKey(stringValue: "url"))
        stores = try c.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "stores")) ?? []
    }
}

/// Alert webhooks (admin and manager). The signing secret is shown once, in the 201 answer.
struct WebhookController {
    let webhooks: WebhookService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .post, "/v1/webhooks", create)
        routes.on(group, .get, "/v1/webhooks", list)
        routes.on(group, .delete, "/v1/webhooks/{webhook_id}", delete)
        routes.on(group, .get, "/v1/webhooks/{webhook_id}/attempts", attempts)
    }

    @Sendable func create(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageWebhooks)
        let body = try await JSONBody.decode(WebhookBody.self, from: request, context: context)
        let webhook = try await webhooks.create(url: body.url, stores: body.stores)
        return try Answer.make(WebhookAnswer(webhook, showingSecret: true), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageWebhooks)
        return try Answer.make(Answer.Page(items: try await webhooks.list().map { WebhookAnswer($0) }, nextCursor: nil))
    }

    @Sendable func delete(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageWebhooks)
        try await webhooks.delete(id: try context.identifier("webhook_id"))
        return Response(status: .noContent)
    }

    @Sendable func attempts(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageWebhooks)
        let id = try context.identifier("webhook_id")
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let items = try await webhooks.attempts(webhookID: id, limit: limit).map(WebhookAttemptAnswer.init)
        return try Answer.make(Answer.Page(items: items, nextCursor: nil))
    }
}
