import BazaarCommands
import BazaarCore
import BazaarDomain
import Hummingbird

struct TransferReceiveBody: Decodable {
    var quantity: Int64?
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(["quantity"])
        quantity = try decoder.container(keyedBy: AnyKey.self).integer(AnyKey(stringValue: "quantity"))
    }
}

/// Transfers in transit (shipped with `POST /v1/transfers` and `"in_transit": true`): read one, receive it.
struct TransferController {
    let transfers: TransferService

    func register(_ routes: inout RouteRegistrar, on group: RouterGroup<BazaarRequestContext>) {
        routes.on(group, .get, "/v1/transfers/{transfer_id}", get)
        routes.on(group, .post, "/v1/transfers/{transfer_id}/receive", receive)
    }

    @Sendable func get(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let transfer = try await transfers.transfer(id: try context.identifier("transfer_id"))
        // Either end's readers may see it.
        if !caller.may(.readStock(storeID: transfer.fromStoreID)) { try caller.require(.readStock(storeID: transfer.toStoreID)) }
        return try Answer.make(TransferAnswer(transfer: transfer))
    }

    /// Records the `transfer_in` of what arrived (`quantity`, default all shipped); a shortfall is kept on the transfer
    /// and opens a `shrinkage` alert at the destination.
    @Sendable func receive(_ request: Request, _ context: BazaarRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.identifier("transfer_id")
        let body = try await JSONBody.decode(TransferReceiveBody.self, from: request, context: context)
        try caller.require(.writeStock(storeID: try await transfers.transfer(id: id).toStoreID))
        return try Answer.make(TransferAnswer(transfer: try await transfers.receive(id: id, quantity: body.quantity, actor: caller.name).transfer))
    }
}
