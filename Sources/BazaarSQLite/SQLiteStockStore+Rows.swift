import BazaarCore
import BazaarDomain
import GRDB

/// The columns each read selects and the mapping of its rows (by position, in the order the columns are listed).
extension SQLiteStockStore {
    static let movementColumns = SharedSQL.movementColumns

    /// The parameters of a shared SQL text (`SQLParameter`), as arguments to bind.
    static func arguments(_ parameters: [SQLParameter]) -> StatementArguments {
        StatementArguments(parameters.map { parameter -> (any DatabaseValueConvertible)? in
            switch parameter {
            case .text(let text): text
            case .integer(let value): value
            }
        })
    }
    static let productColumns = SharedSQL.productColumns
    static let apiKeyColumns = SharedSQL.apiKeyColumns

    static func movement(from row: Row) throws -> Movement {
        let reasonText: String = row[8]
        guard let reason = MovementReason(rawValue: reasonText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown reason \(reasonText) in ledger")
        }
        return Movement(
            sequence: row[0], movementID: row[1], storeID: row[2], productID: row[3], delta: row[4], quantityBefore: row[5],
            quantityAfter: row[6], version: row[7], reason: reason, reference: row[9], actor: row[10], atMillis: row[11],
            recordedAtMillis: row[12])
    }

    /// The columns of a stock row's level with its inventory states, in `level(_:at:)`'s order.
    static let levelColumns = SharedSQL.levelStateColumns

    static func level(_ row: Row, at i: Int) -> StockLevel {
        StockLevel(quantity: row[i], version: row[i + 1], updatedAtMillis: row[i + 2], reserved: row[i + 3], incoming: row[i + 4],
                   stateChanges: row[i + 5])
    }

    static func stockRow(_ row: Row) -> StockRow {
        StockRow(storeID: row[0], productID: row[1], level: level(row, at: 2))
    }

    static func store(from row: Row) -> Store {
        Store(id: row[0], name: row[1], attributesJSON: row[2], createdAtMillis: row[3], updatedAtMillis: row[4])
    }

    static func product(from row: Row) -> Product {
        Product(id: row[0], name: row[1], attributesJSON: row[2], leadTimeDays: row[3], reviewPeriodDays: row[4], packSize: row[5],
                serviceLevel: row[6], fillRate: row[9], createdAtMillis: row[7], updatedAtMillis: row[8])
    }

    static func apiKey(from row: Row) -> APIKeyRecord {
        let stores: String = row[3]
        return APIKeyRecord(
            id: row[0], name: row[1], role: Role(rawValue: row[2]) ?? .reader,
            stores: stores.isEmpty ? [] : stores.split(separator: ",").map(String.init), keyHash: row[4],
            createdAtMillis: row[5], revokedAtMillis: row[6])
    }
}
