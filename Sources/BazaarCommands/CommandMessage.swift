public import BazaarDomain
import Foundation

/// The value of a `bazaar.stock-commands` message (DESIGN.md): one movement with its `id`, the idempotency key.
/// Decoded by the same rules as an HTTP body, so a command is valid on Kafka exactly when it is valid over HTTP.
public enum CommandMessage {
    struct Body: Decodable {
        var id: String
        var movement: MovementBody

        private enum Key: String, CodingKey { case id }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownFields(CommandMessage.fields)
            id = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .id)
            // The same fields as a batch item (store and product in the body).
            movement = try MovementBody(commandMessageFrom: decoder)
        }
    }

    public static let fields = MovementBody.batchFields.union(["id"])

    /// The command and its id, or a `DomainError` naming what is wrong.
    ///
    /// Well-formed messages take a fast path (`JSONNode`: the `Decodable` path cost more CPU than applying the
    /// command); anything it does not accept is decoded again the `Decodable` way, which finds what is wrong.
    public static func decode(_ bytes: [UInt8]) throws -> (id: String, command: MovementCommand) {
        if let text = String(validating: bytes, as: UTF8.self), case .object(let object)? = JSONNode.parse(text),
            object.keys.allSatisfy(fields.contains), case .string(let id)? = object["id"],
            let movement = MovementBody(commandMessage: object)
        {
            return (id, try command(movement))
        }
        return try decodeByCodable(bytes)
    }

    /// The reference decoding, by the same `Decodable` rules as an HTTP body.
    public static func decodeByCodable(_ bytes: [UInt8]) throws -> (id: String, command: MovementCommand) {
        let body: Body
        try StrictJSON.validate(text: bytes, field: "body")  // root-level refusals name `body`, as `DomainError.decoding` does
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw DomainError.decoding(error)
        } catch {
            throw DomainError.invalid(field: "value", message: "must be a JSON object")
        }
        return (body.id, try command(body.movement))
    }

    private static func command(_ movement: MovementBody) throws -> MovementCommand {
        guard let store = movement.storeID else { throw DomainError.invalid(field: "store_id", message: "is required") }
        guard let product = movement.productID else { throw DomainError.invalid(field: "product_id", message: "is required") }
        return try movement.command(storeID: store, productID: product)
    }
}
