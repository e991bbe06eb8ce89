import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

struct APIKeyBody: Decodable {
    var name: String
    var role: String
    var stores: [String]

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["name", "role", "stores"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        name = try c.decode(String.self, forKey: AnyKey(stringValue: "name"))
        role = try c.decode(String.self, forKey: AnyKey(stringValue: "role"))
        stores = try c.decodeIfPresent([String].self, forKey: AnyKey(stringValue: "stores")) ?? []
    }
}

/// API keys: admin only. The key is shown once, in the 201 answer.
struct APIKeyController {
    let keys: APIKeyService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .post, "/v1/api-keys", create)
        routes.on(group, .get, "/v1/api-keys", list)
        routes.on(group, .delete, "/v1/api-keys/{key_id}", revoke)
    }

    @Sendable func create(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageKeys)
        let body = try await JSONBody.decode(APIKeyBody.self, from: request, context: context)
        guard let role = Role(rawValue: body.role) else {
            throw DomainError.invalid(field: "role", message: "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let issued = try await keys.create(name: body.name, role: role, stores: body.stores)
        return try Answer.make(APIKeyAnswer(record: issued.record, key: issued.key), status: .created)
    }

    /// Keys oldest first, `limit` a page (a chain with a key per till has thousands). Keys are never deleted and a new
    /// one comes last, so the cursor is the position of the page's end.
    @Sendable func list(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageKeys)
        let limit = try parameter { () throws(DomainError) in try Paging.limit(request.query("limit")) }
        let start = try request.query("cursor").map { c in try parameter { () throws(DomainError) in try Cursor.decodeSequence(c) } } ?? 0
        // (A position past any table's size reads an empty page: `Int` holds every 18-digit cursor.)
        let page = try await keys.list(skipping: Int(start), limit: limit)
        return try Answer.make(Answer.Page(items: page.keys.map { APIKeyAnswer(record: $0) },
                                           nextCursor: page.more ? Cursor.encode(sequence: start + Int64(page.keys.count)) : nil))
    }

    @Sendable func revoke(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        try context.caller().require(.manageKeys)
        try await keys.revoke(id: try context.identifier("key_id"))
        return Response(status: .noContent)
    }

}
