import AsyncHTTPClient
import BazaarApp
import BazaarCore
import BazaarDomain
import Foundation
import HummingbirdTesting
import KafkaClient
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Plain HTTP/1.1 to a live node on loopback, many requests at once (the test client of Hummingbird is one
/// connection).
struct LoopbackHTTP {
    let client = HTTPClient.shared

    func call(_ method: HTTPMethod, port: Int, _ path: String, body: String? = nil, key: String = adminKey,
              idempotencyKey: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: [:], body: String(buffer: bytes))
    }
}

extension KafkaPipelineTests {
    /// Issue 10, the production shape: two nodes on one MariaDB (each with two group commits in flight), HTTP
    /// writers on both and Kafka commands at the same time, while a client pages `/v1/changes`. Every movement in
    /// the ledger is then on `bazaar.stock-movements` exactly once, and the pager saw each exactly once.
    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func underHTTPAndKafkaWritersOnTwoNodesEveryMovementIsPublishedAndPagedOnce() async throws {
        let db = TestDatabase(.mariadb)
        let (nodeA, nodeB) = try await KafkaTestBroker.twoNodes(db.url, groupPrefix: "test-load")
        let prefix = "W" + UUID().uuidString.prefix(6)
        let stores = (0..<4).map { "\(prefix)-\($0)" }
        let products = (0..<10).map { "P\($0)" }
        let http = LoopbackHTTP()
        let commands = 1200, writers = 32, writesEach = 40
        let ledger = try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                let ports = [try #require(a.port), try #require(b.port)]
                for store in stores { _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"w"}"#) }
                for product in products { _ = try await a.call(.put, "/v1/products/\(product)", body: #"{"name":"p"}"#) }
                // Node B reads the catalog through the replica: wait until it knows every store and product (a read
                // without a token is answered by the replica as it is), not for a fixed second.
                let catalogOnB = try await eventually(seconds: 30) {
                    for store in stores where try await b.call(.get, "/v1/stores/\(store)", sendingConsistencyToken: false).status != 200 { return false }
                    for product in products where try await b.call(.get, "/v1/products/\(product)", sendingConsistencyToken: false).status != 200 { return false }
                    return true
                }
                try #require(catalogOnB, "the catalog never reached node B's replica")

                let writing = SharedFlag(true)
                let total = writers * writesEach + commands
                let pager = Task {
                    var seen: [String] = []
                    var cursor = ""
                    var stoppedAt: ContinuousClock.Instant?
                    while true {
                        let stillWriting = writing.isSet
                        let page = try await http.call(.GET, port: ports[0], "/v1/changes?limit=150" + (cursor.isEmpty ? "" : "&cursor=\(cursor)"))
                        let items = page.items
                        seen += items.compactMap { $0["movement_id"] as? String }
                        cursor = page.string("next_cursor") ?? cursor
                        if items.isEmpty {
                            // The feed reads a replica: once the writers stopped, page on until every row arrived
                            // (or a minute passed: then the count below says what is missing).
                            if !stillWriting {
                                stoppedAt = stoppedAt ?? .now
                                if seen.count >= total || ContinuousClock.now - stoppedAt! > .seconds(60) { return seen }
                            }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
                let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
                let producing = Task {
                    for round in 0..<12 {
                        _ = try await producer.sendBatch((0..<(commands / 12)).map { k in
                            let i = round * (commands / 12) + k
                            let store = stores[i % stores.count]
                            return ("bazaar.stock-commands", Array(store.utf8), Array(#"{"id": "\#(prefix)-k\#(i)", "store_id": "\#(store)", "product_id": "P\#(i % 10)", "delta": 1, "reason": "receipt"}"#.utf8))
                        })
                        try await Task.sleep(for: .milliseconds(150))
                    }
                }
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    for writer in 0..<writers {
                        tasks.addTask {
                            for i in 0..<writesEach {
                                let reply = try await http.call(.POST, port: ports[writer % 2],
                                                                "/update-stock/\(stores[(writer + i) % stores.count])/P\((writer * 3 + i) % 10)",
                                                                body: #"{"delta": 1, "reason": "receipt"}"#)
                                #expect(reply.status == 200, "\(reply.body)")
                            }
                        }
                    }
                    try await tasks.waitForAll()
                }
                try await producing.value
                producer.shutdown()
                // Every command applied (by one node or the other), every event published.
                let expected = writers * writesEach + commands
                let applied = try await eventually(seconds: 60) {
                    var total: Int64 = 0
                    for store in stores {
                        for row in try await a.call(.get, "/v1/stores/\(store)/stock?limit=100").items { total += (row["version"] as? NSNumber)?.int64Value ?? 0 }
                    }
                    return total == Int64(expected)
                }
                #expect(applied, "every write and command applied once")
                _ = try await eventually(seconds: 60) { try await nodeA.store.outboxDepth() == 0 }
                writing.set(false)
                let paged = try await pager.value
                // The ledger as the replica has it, once it applied every row (the reads above may have been answered
                // by the primary while it trailed).
                var all: [String] = []
                _ = try await eventually(seconds: 60) {
                    all = try await nodeA.store.movements(afterSequence: 0, limit: 1_000_000).map(\.movementID)
                    return all.count >= expected
                }
                #expect(all.count == expected)
                #expect(paged.count == all.count, "the change feed skipped or repeated rows: \(paged.count) seen of \(all.count)")
                #expect(Set(all).subtracting(paged).isEmpty, "the pager skipped \(Set(all).subtracting(paged).count) rows")
                return all
            }
        }
        let messages = try await KafkaTestBroker.read(MovementEvent.topic) { messages in
            messages.filter { ($0.keyString ?? "").hasPrefix(prefix) }.count >= ledger.count
        }
        let published = messages.filter { ($0.keyString ?? "").hasPrefix(prefix) }.compactMap { message in
            (try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])?["id"] as? String
        }
        #expect(published.count == ledger.count, "\(ledger.count - Set(published).count) committed movements never published")
        #expect(Set(ledger).subtracting(published).isEmpty, "\(Set(ledger).subtracting(published).count) movements missing from the topic")
        try await nodeA.store.close()
        try await nodeB.store.close()
    }

    /// Hostile commands: oversized, a 1 MB reference, invalid UTF-8, an illegal identifier, a member twice, a trailing
    /// comma, an integer beyond 2^53, nesting 100 deep. Each lands in `.rejected`
    /// once, with its value cut to a few KiB (an echo larger than the producer's message size stalled the partition),
    /// the partition moves on, and identifiers made of every legal character are applied.
    @Test func hostileCommandsAreRejectedOnceEachAndThePartitionMovesOn() async throws {
        let db = TestDatabase()
        let group = "test-hostile-\(UUID().uuidString.prefix(8))"
        let system = try await KafkaTestBroker.system(db.url, group: group)
        let store = "H" + UUID().uuidString.prefix(8) + "._:-Zz09"
        let product = "azAZ09._:-"
        try await system.application().test(.live) { client in
            let path = "\(store)/\(product)".addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
            _ = try await client.call(.put, "/v1/stores/\(store.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!)", body: #"{"name":"h"}"#)
            _ = try await client.call(.put, "/v1/products/\(product.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!)", body: #"{"name":"p"}"#)
            var configuration = KafkaConfiguration.producer(brokers: KafkaTestBroker.brokers!)
            configuration.properties["message.max.bytes"] = "4000000"
            let producer = try KafkaProducer(configuration: configuration)
            func message(_ bytes: [UInt8]) -> (topic: String, key: [UInt8]?, value: [UInt8]) { ("bazaar.stock-commands", Array(store.utf8), bytes) }
            func valid(_ id: String) -> [UInt8] {
                Array(#"{"id": "\#(store)-\#(id)", "store_id": "\#(store)", "product_id": "\#(product)", "delta": 1, "reason": "receipt"}"#.utf8)
            }
            let big = Array(#"{"id": "\#(store)-big", "store_id": "\#(store)", "product_id": "\#(product)", "delta": 1, "pad": "\#(String(repeating: "x", count: 900_000))"}"#.utf8)
            let longReference = Array(#"{"id": "\#(store)-ref", "store_id": "\#(store)", "product_id": "\#(product)", "delta": 1, "reference": "\#(String(repeating: "r", count: 1_000_000))"}"#.utf8)
            let invalidUTF8 = Array(#"{"id": "\#(store)-utf", "store_id": ""#.utf8) + [0xFF, 0xFE, 0xC3] + Array(#"", "product_id": "P1", "delta": 1}"#.utf8)
            let illegal = Array(#"{"id": "\#(store)-illegal", "store_id": "bad store!", "product_id": "\#(product)", "delta": 1}"#.utf8)
            // Bodies two JSON readers would read differently (the fast path kept the last `delta`, Foundation the
            // first), and what only a lenient reader takes: refused, never applied either way.
            let head = #"{"id": "\#(store)-%@", "store_id": "\#(store)", "product_id": "\#(product)", "reason": "receipt", "#
            let lenient = [("dup", #""delta": 1, "delta": 2}"#), ("comma", #""delta": 1,}"#), ("huge", #""delta": 9007199254740993}"#),
                           ("deep", #""delta": 1, "pad": "# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}")]
                .map { message(Array((head.replacingOccurrences(of: "%@", with: $0.0) + $0.1).utf8)) }
            _ = try await producer.sendBatch([message(valid("first")), message(big), message(longReference), message(invalidUTF8),
                                              message(illegal)] + lenient + [message(valid("last"))])
            producer.shutdown()
            let moved = try await eventually(seconds: 45) {
                let level = try await client.call(.get, "/get-stock/\(path)")
                return level.int("version") == 2 && level.int("quantity") == 2
            }
            #expect(moved, "the commands after the hostile ones were applied, and only they: the partition moved on")
        }
        let rejected = try await KafkaTestBroker.read("bazaar.stock-commands.rejected") { messages in
            messages.filter { $0.keyString == store && $0.valueString.contains(group) }.count >= 8
        }.filter { $0.keyString == store && $0.valueString.contains(group) }
        #expect(rejected.count == 8, "each hostile command rejected exactly once")
        for message in rejected {
            #expect(message.value.count < 8192, "the echo is bounded: \(message.value.count) bytes")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])
            #expect(json["problem"] is [String: Any])
        }
        #expect(rejected.filter { $0.valueString.contains(#""value_truncated":true"#) }.count == 2)
        // Each refused by the strict reader, for its own reason (not by a later check a lenient reading would also meet).
        for (id, reason) in [("dup", "appears twice"), ("comma", "RFC 8259"), ("huge", "2^53"), ("deep", "nests deeper")] {
            let echo = rejected.first { $0.valueString.contains(#"\#(store)-\#(id)\""#) }?.valueString ?? ""
            #expect(echo.contains(reason), "\(id): \(echo.prefix(600))")
        }
        try await system.store.close()
    }
}

extension KafkaPipelineTests {
    /// Issue 11: a movement event that this deployment did not produce (here a level of -50 at version 100, the
    /// kind of event that would poison every node's cache and open alerts) changes no cache and raises no alert.
    /// Node B caches the pair; a forged event for it is produced on its partition; then a genuine write through
    /// node A follows it on the same partition: once B shows the genuine version, B's consumer has read past the
    /// forgery, and must have refused it.
    @Test func aForgedMovementEventChangesNoCacheAndRaisesNoAlert() async throws {
        let db = TestDatabase()
        let nodeA = try await KafkaTestBroker.system(db.url)
        let nodeB = try await KafkaTestBroker.system(db.url)
        let store = "F" + UUID().uuidString.prefix(8)
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"f"}"#)
                for p in 1...20 { _ = try await a.call(.put, "/v1/products/P\(p)", body: #"{"name":"p"}"#) }
                let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
                var seen = false
                for p in 1...20 where !seen {
                    #expect(try await b.call(.get, "/get-stock/\(store)/P\(p)", sendingConsistencyToken: false).int("version") == 0)
                    let forged = Movement(sequence: 0, movementID: UUID().uuidString.lowercased(), storeID: store, productID: "P\(p)", delta: -50,
                                          quantityBefore: 0, quantityAfter: -50, version: 100, reason: .sale, reference: nil, actor: "intruder",
                                          atMillis: WallClock.system.nowMillis(), recordedAtMillis: WallClock.system.nowMillis())
                    // Unsigned, and signed with another deployment's key.
                    let other = MovementEventSigner(deploymentKey: DeploymentKey(secret: "another-deployment-secret"))
                    _ = try await producer.sendBatch([
                        (MovementEvent.topic, Array(store.utf8), Array(forged.cloudEventJSON.utf8)),
                        (MovementEvent.topic, Array(store.utf8), Array(other.signedCloudEvent(forged).utf8)),
                    ])
                    _ = try await a.call(.post, "/update-stock/\(store)/P\(p)", body: #"{"delta": 1, "reason": "receipt"}"#)
                    seen = try await eventually(seconds: 1.5) {
                        try await b.call(.get, "/get-stock/\(store)/P\(p)", sendingConsistencyToken: false).int("version") == 1
                    }
                    let level = try await b.call(.get, "/get-stock/\(store)/P\(p)", sendingConsistencyToken: false)
                    #expect(level.int("version") != 100 && level.int("quantity") != -50, "a forged level reached node B's cache: \(level.body)")
                }
                producer.shutdown()
                #expect(seen, "node B's coherence consumer read the partition past the forged events")
                // The intelligence consumers had their chance at the forged events once they evaluated a later real
                // movement of the same store (same key, same partition, read in order): a sale below zero of a product
                // no forged event names, repeated until its alert opens (a group still joining starts at the newest).
                // A fixed sleep proved nothing: a slow consumer passed it without having read the forged events.
                _ = try await a.call(.put, "/v1/products/MARK", body: #"{"name":"marker"}"#)
                var markerEvaluated = false
                for _ in 0..<30 where !markerEvaluated {
                    _ = try await a.call(.post, "/update-stock/\(store)/MARK", body: #"{"delta": -1, "reason": "sale"}"#)
                    markerEvaluated = try await eventually(seconds: 1) {
                        try await a.call(.get, "/v1/alerts?store_id=\(store)&kind=negative_stock").items.contains { $0["product_id"] as? String == "MARK" }
                    }
                }
                try #require(markerEvaluated, "the intelligence consumers never evaluated the marker sale")
                let alerts = try await a.call(.get, "/v1/alerts?store_id=\(store)&kind=negative_stock").items.filter { $0["product_id"] as? String != "MARK" }
                #expect(alerts.isEmpty, "a forged event raised \(alerts.count) alerts")
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
    /// A forged reservation event (unsigned, or signed with another deployment's key) carrying a huge stock revision
    /// would mark node B's cached level stale until a level that new arrived: never, so the pair could not be cached
    /// again. A genuine write through A first shows B's coherence consumer reading (a group still joining starts at
    /// the newest event and would miss the forgery); one after the forgery shows it read past it; then B's cache
    /// must hold the genuine level. With Redis the caches need no invalidation and the event changes nothing either.
    @Test func aForgedReservationEventMarksNoCachedLevelStale() async throws {
        let db = TestDatabase()
        let nodeA = try await KafkaTestBroker.system(db.url)
        let nodeB = try await KafkaTestBroker.system(db.url)
        let store = "R" + UUID().uuidString.prefix(8)
        try await nodeA.application().test(.live) { a in
            try await nodeB.application().test(.live) { b in
                _ = try await a.call(.put, "/v1/stores/\(store)", body: #"{"name":"r"}"#)
                _ = try await a.call(.put, "/v1/products/P1", body: #"{"name":"p"}"#)
                func bSees(_ version: Int64) async throws -> Bool {
                    _ = try await a.call(.post, "/update-stock/\(store)/P1", body: #"{"delta": 1, "reason": "receipt"}"#)
                    return try await eventually(seconds: 30) {
                        try await b.call(.get, "/get-stock/\(store)/P1", sendingConsistencyToken: false).int("version") == version
                    }
                }
                #expect(try await b.call(.get, "/get-stock/\(store)/P1", sendingConsistencyToken: false).int("version") == 0)
                try #require(try await bSees(1), "node B's coherence consumer never read a genuine event")
                let forged = reservation(store, "P1", quantity: 1).cloudEventJSON(stockRevision: 1 << 62)
                let other = MovementEventSigner(deploymentKey: DeploymentKey(secret: "another-deployment-secret"))
                let producer = try KafkaProducer(configuration: .producer(brokers: KafkaTestBroker.brokers!))
                // Unsigned; signed with another key; unsigned but naming a movement's type inside, nested and as a
                // duplicate key before the real one (a byte search for the type would take either for a movement).
                let nested = #"{"type":"bazaar.stock.reservation","x":{"type":"bazaar.stock.movement"},"bazaarrevision":"4611686018427387904","data":{"store_id":"\#(store)","product_id":"P1"}}"#
                let duplicate = #"{"type":"bazaar.stock.movement","type":"bazaar.stock.reservation","bazaarrevision":"4611686018427387904","data":{"store_id":"\#(store)","product_id":"P1"}}"#
                _ = try await producer.sendBatch([forged, other.signedStockEvent(forged), nested, duplicate].map {
                    (MovementEvent.topic, Array(store.utf8), Array($0.utf8))
                })
                producer.shutdown()
                try #require(try await bSees(2), "node B's coherence consumer did not read past the forged events")
                // B's read fills its cache: the level answers from memory, not marked stale by the forgery.
                #expect(try await eventually(seconds: 5) {
                    _ = try await b.call(.get, "/get-stock/\(store)/P1", sendingConsistencyToken: false)
                    return nodeB.stock.cache.levelInMemory(StockKey(storeID: store, productID: "P1"))?.version == 2
                })
            }
        }
        try await nodeA.store.close()
        try await nodeB.store.close()
    }
}
