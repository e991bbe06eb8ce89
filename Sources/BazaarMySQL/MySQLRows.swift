import BazaarCore
import BazaarDomain
import MySQLClient

/// Column lists and row mapping shared by the store's queries.
enum MySQLRows {
    static let movementColumns = SharedSQL.movementColumns
    static let levelColumns = "store_id, product_id, quantity, version, updated_at_ms, reserved, incoming, state_changes"
    /// A level with its inventory states, in `level(_:at:)`'s order.
    static let levelStateColumns = SharedSQL.levelStateColumns
    static let storeColumns = "id, name, attributes, created_at_ms, updated_at_ms"
    static let productColumns = SharedSQL.productColumns
    static let apiKeyColumns = SharedSQL.apiKeyColumns
    static let alertColumns = SharedSQL.alertColumns

    static func corrupt(_ what: String) -> MySQLError { MySQLError(code: MySQLError.corruptData, message: what) }

    /// The parameters of a shared SQL text (`SQLParameter`), as values to bind.
    static func bound(_ parameters: [SQLParameter]) -> [any MySQLBindable] {
        parameters.map { parameter in
            switch parameter {
            case .text(let text): text
            case .integer(let value): value
            }
        }
    }

    static func movement(_ row: MySQLRow) throws -> Movement {
        let reasonText = try row.string(8)
        guard let reason = MovementReason(rawValue: reasonText) else { throw corrupt("unknown reason \(reasonText) in ledger") }
        return Movement(
            sequence: try row.int(0), movementID: try row.string(1), storeID: try row.string(2), productID: try row.string(3),
            delta: try row.int(4), quantityBefore: try row.int(5), quantityAfter: try row.int(6), version: try row.int(7), reason: reason,
            reference: row.optionalString(9), actor: try row.string(10), atMillis: try row.int(11), recordedAtMillis: try row.int(12))
    }

    static func stockRow(_ row: MySQLRow) throws -> StockRow {
        StockRow(storeID: try row.string(0), productID: try row.string(1), level: try level(row, at: 2))
    }

    static func level(_ row: MySQLRow, at i: Int) throws -> StockLevel {
        StockLevel(quantity: try row.int(i), version: try row.int(i + 1), updatedAtMillis: try row.int(i + 2), reserved: try row.int(i + 3),
                   incoming: try row.int(i + 4), stateChanges: try row.int(i + 5))
    }

    static func store(_ row: MySQLRow) throws -> Store {
        Store(id: try row.string(0), name: try row.string(1), attributesJSON: try row.string(2), createdAtMillis: try row.int(3),
              updatedAtMillis: try row.int(4))
    }

    static func product(_ row: MySQLRow) throws -> Product {
        Product(id: try row.string(0), name: try row.string(1), attributesJSON: try row.string(2), leadTimeDays: Int(try row.int(3)),
                reviewPeriodDays: Int(try row.int(4)), packSize: Int(try row.int(5)), serviceLevel: try row.double(6),
                fillRate: try row.optionalDouble(9), createdAtMillis: try row.int(7), updatedAtMillis: try row.int(8))
    }

    static func apiKey(_ row: MySQLRow) throws -> APIKeyRecord {
        let stores = try row.string(3)
        return APIKeyRecord(
            id: try row.string(0), name: try row.string(1), role: Role(rawValue: try row.string(2)) ?? .reader,
            stores: stores.isEmpty ? [] : stores.split(separator: ",").map(String.init), keyHash: try row.string(4),
            createdAtMillis: try row.int(5), revokedAtMillis: try row.optionalInt(6))
    }

    static func alert(_ row: MySQLRow) throws -> Alert {
        guard let kind = AlertKind(rawValue: try row.string(2)), let status = AlertStatus(rawValue: try row.string(3)) else {
            throw corrupt("unknown alert kind or status")
        }
        return Alert(sequence: try row.int(0), id: try row.string(1), kind: kind, status: status, storeID: try row.string(4),
                     productID: try row.string(5), quantity: try row.int(6), threshold: try row.optionalDouble(7), message: try row.string(8),
                     openedAtMillis: try row.int(9), acknowledgedAtMillis: try row.optionalInt(10), acknowledgedBy: row.optionalString(11),
                     resolvedAtMillis: try row.optionalInt(12))
    }

    static func outboxEntry(_ row: MySQLRow) throws -> OutboxEntry {
        OutboxEntry(sequence: try row.int(0), topic: try row.string(1), key: try row.string(2), eventID: try row.string(3), payload: try row.string(4))
    }
}
