import BazaarApp
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The replenishment plan's actions on two nodes of one MariaDB database (with its replica): what holds on one node
/// (InventoryPositionTests) holds when the callers, and a key's retries, reach different processes.
@Suite("The plan's actions across two nodes", .ownConsistencyTokens,
       .enabled(if: Backend.primaryURL != nil, "needs the MariaDB test primary"))
struct PlanActionsAcrossNodesTests {
    /// Six callers act on one plan at once, three through each node, each with its own key; then each key is sent
    /// again through the other node. The goods move once; the one call that moved them answers the same movement on
    /// either node; a refused key stays refused, nothing moved for it.
    @Test func callersOnTwoNodesActingOnOnePlanMoveTheGoodsOnce() async throws {
        let db = TestDatabase(.mariadb)
        let nodeA = try await Harness.system(db.url)
        let nodeB = try await Harness.system(db.url)
        try await nodeA.application().test(.router) { a in
            try await nodeB.application().test(.router) { b in
                for store in ["S2", "S3"] { _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"s"}"#) }
                _ = try await a.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
                try await InventoryPositionTests.excessAtS2ShortAtS3(nodeA, a)
                let path = "/v1/stores/S3/replenishment/transfers"
                @Sendable func key(_ caller: Int) -> HTTPFields { [.init("Idempotency-Key")!: "two-nodes-\(caller)"] }
                let first = try await withThrowingTaskGroup(of: (Int, Reply).self) { group in
                    for caller in 0..<6 {
                        let client = caller % 2 == 0 ? a : b
                        group.addTask { (caller, try await client.call(.post, path, body: "{}", headers: key(caller))) }
                    }
                    return try await group.reduce(into: [Int: Reply]()) { $0[$1.0] = $1.1 }
                }
                let made = first.filter { $0.value.status == 200 }
                #expect(made.count == 1, "\(first.mapValues(\.status)) \(first.mapValues(\.body))")
                #expect(first.values.allSatisfy { $0.status == 200 || ($0.status == 409 && $0.isProblem) }, "\(first.mapValues(\.body))")
                let movementID = { (reply: Reply) in
                    ((reply.json["transfers"] as? [[String: Any]])?.first?["from"] as? [String: Any])?["movement_id"] as? String
                }
                for (caller, reply) in first {
                    let again = try await (caller % 2 == 0 ? b : a).call(.post, path, body: "{}", headers: key(caller))
                    if reply.status == 200 {
                        #expect(again.status == 200 && movementID(again) != nil && movementID(again) == movementID(reply), "\(again.body)")
                        #expect(again.headers[.init("Idempotent-Replayed")!] == "true")
                    } else {
                        // Refused the first time (the plan had changed): sent again, it reads the plan anew, which holds
                        // nothing more to move.
                        #expect(again.status != 200 || movementID(again) == nil, "caller \(caller): \(again.status) \(again.body)")
                    }
                }
                for client in [a, b] {
                    #expect(try await client.call(.get, "/get-stock/S2/P1").int("quantity") == 71, "moved once")
                    #expect(try await client.call(.get, "/get-stock/S3/P1").int("quantity") == 30)
                }
                for (store, quantity) in [("S2", Int64(71)), ("S3", 30)] {
                    let ledger = try await nodeB.store.ledgerTotals(storeID: store, productID: "P1")
                    #expect(ledger.sum == quantity, "\(store): the level equals the sum of its ledger")
                }
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
}
