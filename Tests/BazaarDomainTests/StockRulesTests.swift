import BazaarDomain
import Testing

@Suite("Stock rules")
struct StockRulesTests {
    let level = StockLevel(quantity: 5, version: 3, updatedAtMillis: 1)

    @Test func deltaMovesTheLevelAndTheVersion() throws {
        let command = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-2), reason: .sale)
        let (delta, next) = try StockRules.apply(command, to: level, atMillis: 99)
        #expect(delta == -2)
        #expect(next == StockLevel(quantity: 3, version: 4, updatedAtMillis: 99))
    }

    /// A planned bound refuses by what the plan relied on, not by any change: the destination's position may fall
    /// (a sale) but not rise (replenished). (The source's bound: the next test.)
    @Test func aPlannedBoundRefusesOnlyWhatThePlanReliedOn() throws {
        let destination = StockLevel(quantity: 4, version: 7, updatedAtMillis: 0, reserved: 1, incoming: 2)  // position 5
        func into(_ bound: Int64) throws -> MovementCommand {
            try MovementCommand(storeID: "S3", productID: "P1", change: .delta(10), reason: .transferIn, planned: .positionAtMost(bound))
        }
        #expect(throws: Never.self) { _ = try StockRules.apply(try into(5), to: destination, atMillis: 1) }
        #expect(throws: Never.self) { _ = try StockRules.apply(try into(9), to: destination, atMillis: 1) }
        #expect(throws: DomainError.planChanged(storeID: "S3", productID: "P1")) { _ = try StockRules.apply(try into(4), to: destination, atMillis: 1) }
        #expect(try into(5).fingerprint != (try MovementCommand(storeID: "S3", productID: "P1", change: .delta(10), reason: .transferIn)).fingerprint)
    }

    /// A plan's transfer source gives what the plan asked while it can spare it, else what keeps its available stock at
    /// its floor (a sale meanwhile took part of its excess), and is refused only with nothing above the floor; the
    /// destination receives what the source gave, and is refused once replenished (its position above the plan's).
    @Test func aPlannedSourceSparesDownToItsFloorAndItsDestinationReceivesAsMuch() throws {
        let source = StockLevel(quantity: 50, version: 3, updatedAtMillis: 0, reserved: 5)  // 45 available
        func out(_ floor: Int64) throws -> MovementCommand {
            try MovementCommand(storeID: "S2", productID: "P1", change: .delta(-25), reason: .transferOut, planned: .sparesDownTo(floor))
        }
        #expect(try StockRules.apply(try out(20), to: source, atMillis: 1).delta == -25, "25 to spare above 20: all of it")
        #expect(try StockRules.apply(try out(0), to: source, atMillis: 1).delta == -25)
        let trimmed = try StockRules.apply(try out(21), to: source, atMillis: 1)
        #expect(trimmed.delta == -24 && trimmed.next.quantity == 26 && trimmed.next.available == 21, "24 to spare above 21")
        #expect(try StockRules.apply(try out(44), to: source, atMillis: 1).delta == -1)
        for floor: Int64 in [45, 46, 1000] {
            #expect(throws: DomainError.planChanged(storeID: "S2", productID: "P1"), "floor \(floor)") {
                _ = try StockRules.apply(try out(floor), to: source, atMillis: 1)
            }
        }
        let destination = StockLevel(quantity: 4, version: 7, updatedAtMillis: 0, reserved: 1, incoming: 2)  // position 5
        func into(_ bound: Int64) throws -> MovementCommand {
            try MovementCommand(storeID: "S3", productID: "P1", change: .delta(25), reason: .transferIn,
                                planned: .receivesWhatTheSourceGave(positionAtMost: bound))
        }
        let received = try StockRules.apply(try into(5), to: destination, atMillis: 1, previousDelta: -24)
        #expect(received.delta == 24 && received.next.quantity == 28, "what the source gave, not the 25 asked")
        #expect(try StockRules.apply(try into(5), to: destination, atMillis: 1, previousDelta: -30).delta == 25, "never more than asked")
        #expect(throws: DomainError.planChanged(storeID: "S3", productID: "P1")) {
            _ = try StockRules.apply(try into(4), to: destination, atMillis: 1, previousDelta: -24)
        }
        // Never without a source that gave before it in the write.
        for previous: Int64? in [nil, 0, 3] {
            #expect(throws: DomainError.planChanged(storeID: "S3", productID: "P1")) {
                _ = try StockRules.apply(try into(5), to: destination, atMillis: 1, previousDelta: previous)
            }
        }
        #expect(try out(20).fingerprint != (try out(21)).fingerprint && (try into(5)).fingerprint != (try into(6)).fingerprint)
    }

    @Test func countRecordsTheDifferenceEvenWhenZero() throws {
        let same = try MovementCommand(storeID: "S1", productID: "P1", change: .quantity(5))
        #expect(same.reason == .count)
        let (delta, next) = try StockRules.apply(same, to: level, atMillis: 1)
        #expect(delta == 0)
        #expect(next.version == 4)
        let lower = try MovementCommand(storeID: "S1", productID: "P1", change: .quantity(1))
        #expect(try StockRules.apply(lower, to: level, atMillis: 1).delta == -4)
    }

    @Test(arguments: [MovementReason.sale])
    func factsAreRecordedBelowZero(reason: MovementReason) throws {
        let command = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-9), reason: reason)
        #expect(try StockRules.apply(command, to: level, atMillis: 1).next.quantity == -4)
    }

    @Test(arguments: [MovementReason.adjustment, .damage, .transferOut])
    func commandsAreRefusedBelowZero(reason: MovementReason) throws {
        let command = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-6), reason: reason)
        #expect(throws: DomainError.insufficientStock(storeID: "S1", productID: "P1", available: 5, requested: 6)) {
            try StockRules.apply(command, to: level, atMillis: 1)
        }
        // Down to exactly zero is fine.
        let exact = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(-5), reason: reason)
        #expect(try StockRules.apply(exact, to: level, atMillis: 1).next.quantity == 0)
    }

    @Test func positiveAdjustmentOfANegativeLevelIsAllowed() throws {
        let negative = StockLevel(quantity: -4, version: 2, updatedAtMillis: 1)
        let command = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(1), reason: .adjustment)
        #expect(try StockRules.apply(command, to: negative, atMillis: 1).next.quantity == -3)
    }

    @Test func expectedVersionMustMatch() throws {
        let command = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(1), expectedVersion: 2)
        #expect(throws: DomainError.versionConflict(storeID: "S1", productID: "P1", expected: 2, actual: 3)) {
            try StockRules.apply(command, to: level, atMillis: 1)
        }
        let matching = try MovementCommand(storeID: "S1", productID: "P1", change: .delta(1), expectedVersion: 3)
        #expect(try StockRules.apply(matching, to: level, atMillis: 1).next.version == 4)
    }

    @Test func commandValidationNamesTheField() {
        func field(_ make: () throws -> MovementCommand) -> String? {
            do { _ = try make(); return nil } catch {
                if case .invalid(let field, _)? = error as? DomainError { return field }
                return "other"
            }
        }
        #expect(field { try MovementCommand(storeID: "", productID: "P", change: .delta(1)) } == "store_id")
        #expect(field { try MovementCommand(storeID: "S", productID: "P/1", change: .delta(1)) } == "product_id")
        #expect(field { try MovementCommand(storeID: String(repeating: "a", count: 65), productID: "P", change: .delta(1)) } == "store_id")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(0)) } == "delta")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(1_000_000_001)) } == "delta")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(3), reason: .sale) } == "delta")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(-3), reason: .receipt) } == "delta")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(-3), reason: .count) } == "reason")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .quantity(-1)) } == "quantity")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .quantity(3), reason: .sale) } == "reason")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(1), reference: String(repeating: "r", count: 129)) } == "reference")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(1), reference: "a\u{7}b") } == "reference")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(1), expectedVersion: -1) } == "expected_version")
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(1), fieldPrefix: "movements[2].") } == nil)
        #expect(field { try MovementCommand(storeID: "S", productID: "P", change: .delta(0), fieldPrefix: "movements[2].") } == "movements[2].delta")
    }

    @Test func identifiersFollowTheAlphabet() {
        #expect(Identifier.isValid("Store-01.a_b:c"))
        for bad in ["", "a b", "é", "a/b", "a?b", String(repeating: "x", count: 65)] { #expect(!Identifier.isValid(bad)) }
        #expect(Identifier.isValid(String(repeating: "x", count: 64)))
    }
}

@Suite("Access")
struct AccessTests {
    @Test func rolesGrantWhatDesignSays() {
        let admin = Principal(keyID: "k", name: "a", role: .admin, stores: [])
        let manager = Principal(keyID: "k", name: "m", role: .manager, stores: [])
        let store = Principal(keyID: "k", name: "s", role: .store, stores: ["S1"])
        let reader = Principal(keyID: "k", name: "r", role: .reader, stores: [])
        let actions: [Action] = [.readStock(storeID: "S1"), .readStock(storeID: "S2"), .writeStock(storeID: "S1"),
                                 .writeStock(storeID: "S2"), .readAllStores, .readCatalog, .writeCatalog, .manageKeys]
        #expect(actions.map(admin.may) == [true, true, true, true, true, true, true, true])
        #expect(actions.map(manager.may) == [true, true, true, true, true, true, true, false])
        #expect(actions.map(store.may) == [true, false, true, false, false, true, false, false])
        #expect(actions.map(reader.may) == [true, true, false, false, true, true, false, false])
    }
}

@Suite("Time, cursors, buckets, JSON")
struct SupportTests {
    @Test func rfc3339RoundTrips() {
        for millis: Int64 in [0, 1, 86_399_999, 951_782_400_000, 1_795_000_000_123, -1] {
            #expect(RFC3339.parse(RFC3339.format(millis: millis)) == millis)
        }
        #expect(RFC3339.format(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.parse("2024-02-29T12:00:00+01:30") == RFC3339.parse("2024-02-29T10:30:00Z"))
        #expect(RFC3339.parse("2024-02-29") == RFC3339.parse("2024-02-29T00:00:00Z"))
        #expect(RFC3339.parse("2024-02-29T10:30:00.5Z")! - RFC3339.parse("2024-02-29T10:30:00Z")! == 500)
        for bad in ["", "2023-02-29", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00", "yesterday", "2024-01-01T00:00:00Zjunk"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func cursorsRefuseForeignText() throws {
        #expect(try Cursor.decodeSequence(Cursor.encode(sequence: 42)) == 42)
        #expect(try Cursor.decodeIdentifier(Cursor.encode(identifier: "P-1")) == "P-1")
        #expect(throws: DomainError.self) { try Cursor.decodeSequence("42") }
        #expect(throws: DomainError.self) { try Cursor.decodeIdentifier(Cursor.encode(sequence: 3) + "/") }
        #expect(throws: DomainError.self) { try Paging.limit("1001") }
        #expect(try Paging.limit(nil) == 100)
    }

    @Test func tokenBucketRefillsAtItsRate() {
        var bucket = TokenBucket(burst: 2, now: 0)
        #expect(bucket.take(rate: 1, burst: 2, now: 0).allowed)
        #expect(bucket.take(rate: 1, burst: 2, now: 0).allowed)
        let refused = bucket.take(rate: 1, burst: 2, now: 0)
        #expect(!refused.allowed)
        #expect(refused.retryAfterSeconds == 1)
        #expect(refused.remaining == 0)
        #expect(bucket.take(rate: 1, burst: 2, now: 1.01).allowed)
        #expect(!bucket.take(rate: 1, burst: 2, now: 1.02).allowed)
    }

    @Test func jsonEscapesEverythingRFC8259Requires() {
        #expect(JSON.quoted("a\"b\\c\nd\u{1}é") == "\"a\\\"b\\\\c\\nd\\u0001é\"")
    }
}
