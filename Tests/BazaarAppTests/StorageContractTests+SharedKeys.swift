import BazaarCore
import BazaarDomain
import Testing

extension StorageContractTests {
    /// A batch's stock rows are locked, and its idempotency records read, in one condition per 500 pairs that mixes
    /// two shapes on MariaDB (a store with four products or more as `store = x AND product IN (...)`, the others in
    /// one row `IN` list). Whatever the mix, every existing row must be found (a row missed would be inserted again
    /// and the batch fail on its key) and every stored record too (a record missed would apply a retry twice).
    @Test(arguments: Engine.available)
    func aBatchFindsEveryRowAndRecordWhateverItsKeysShare(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        // Store "B" has 620 products (over one 500-pair condition), "G" exactly 4 (grouped), "R" 3 (a row list), the
        // rest one each. The claims: most in scope "many" (grouped), three scopes of two claims and some of one (a row
        // list beside them).
        var pairs: [(String, String)] = (0..<620).map { ("B", "P\($0)") }
        pairs += (0..<4).map { ("G", "P\($0)") } + (0..<3).map { ("R", "P\($0)") } + (0..<5).map { ("S\($0)", "P1") }
        func requests(delta: Int64, round: String) throws -> [WriteRequest] {
            try pairs.enumerated().map { index, pair in
                WriteRequest(commands: [try command(pair.0, pair.1, delta: delta)], actor: "t",
                             idempotency: IdempotencyClaim(scope: index < 6 ? "two-\(index / 2)" : index % 50 == 0 ? "one-\(index)" : "many",
                                                           key: "\(round)-\(index)", fingerprint: "f\(delta)"))
            }
        }
        let first = await store.applyInOrder(try requests(delta: 1, round: "a"))
        #expect(first.allSatisfy { (try? $0.get()) != nil }, "\(first.compactMap { try? $0.get() }.count) of \(pairs.count) applied")
        // The same claims again (each a replay), then new writes to every row, in one batch.
        let second = await store.applyInOrder(try requests(delta: 1, round: "a") + requests(delta: 2, round: "b"))
        let receipts = try second.map { try $0.get() }
        #expect(receipts.prefix(pairs.count).allSatisfy { $0.replayed }, "every first-round claim is a replay")
        #expect(receipts.dropFirst(pairs.count).allSatisfy { !$0.replayed && $0.movements[0].quantityAfter == 3 })
        for (storeID, productID) in pairs {
            let level = try #require(try await store.level(storeID: storeID, productID: productID))
            #expect(level.quantity == 3 && level.version == 2, "\(storeID)/\(productID): \(level)")
        }
        try await store.close()
    }

    /// A batch whose statements hold more SQL than one round trip carries on MariaDB (a megabyte: a server refuses a
    /// packet over its `max_allowed_packet`) is sent in parts, the last with the commit: all of it is applied.
    @Test(arguments: Engine.available)
    func aBatchOfMoreThanOneRoundTripOfSQLIsAppliedWhole(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        let reference = String(repeating: "r", count: 128)
        let requests = try (0..<3000).map { index in
            WriteRequest(commands: [try MovementCommand(storeID: "S\(index % 40)", productID: "P\(index % 75)", change: .delta(1), reason: .receipt,
                                                        reference: reference)],
                         actor: String(repeating: "a", count: 200),
                         idempotency: IdempotencyClaim(scope: "s", key: "\(index)-" + String(repeating: "k", count: 240), fingerprint: "f"))
        }
        let results = await store.applyInOrder(requests)
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        let replays = await store.applyInOrder(Array(requests.prefix(10)))
        #expect(replays.allSatisfy { (try? $0.get())?.replayed == true })
        var total: Int64 = 0
        for s in 0..<40 {
            for p in 0..<75 { total += try await store.level(storeID: "S\(s)", productID: "P\(p)")?.quantity ?? 0 }
        }
        #expect(total == 3000)
        try await store.close()
    }

    /// `replay` answers what a key's write made without writing (a call that looks before it knows what it would
    /// write, such as the replenishment plan's transfers): nil for a new key, the same movements marked replayed for
    /// a used one, a refusal for a used one with another fingerprint; and it leaves the key free.
    @Test(arguments: Engine.available)
    func aKeysWriteIsReplayedWithoutWriting(_ engine: Engine) async throws {
        let db = TestDatabase(engine.backend ?? .sqlite)
        let store = try await Stores.open(engine, db)
        let claim = IdempotencyClaim(scope: "s", key: "k", fingerprint: "call")
        #expect(try await store.replay(claim) == nil)
        let made = try await store.apply(WriteRequest(commands: [try command("S1", "P1", delta: 4), try command("S2", "P1", delta: 6)],
                                                      actor: "t", idempotency: claim))
        let replayed = try #require(try await store.replay(claim))
        #expect(replayed.replayed && replayed.movements == made.movements)
        await #expect(throws: DomainError.idempotencyKeyReused(key: "k")) {
            try await store.replay(IdempotencyClaim(scope: "s", key: "k", fingerprint: "another call"))
        }
        #expect(try await store.replay(IdempotencyClaim(scope: "other", key: "k", fingerprint: "call")) == nil, "a key is its scope's")
        #expect(try await store.ledgerTotals(storeID: "S1", productID: "P1").rows == 1)
        try await store.close()
    }
}
