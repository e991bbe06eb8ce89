import BazaarCore
import BazaarDomain
import BazaarMySQL
import Foundation
import MySQLClient
import Testing

extension EvaluationBatchTests {
    /// The database lost in the middle of a batch's reads (the connection cut as the second store's thresholds are
    /// read, through `CuttingProxy`): the store before it is prepared, the failure is thrown once the batch is
    /// done, and that store's evaluations read for themselves. Every judgement is still the single path's.
    @Test(.enabled(if: Backend.primaryURL != nil, "needs MariaDB"))
    func aConnectionLostWhileAStoreIsReadLeavesThatStoreToItsOwnReadsAndJudgesAlike() async throws {
        let now = WallClock.system.nowMillis()
        let clock = TestClock(now)
        var outcomes: [[String]] = []
        for cut in [false, true] {
            let db = TestDatabase(.mariadb)
            let (proxy, url) = try CommitCutTests.throughProxy(db)
            defer { proxy.stop() }
            let store = MySQLStockStore(options: .init(primary: try MySQLConfiguration(url: url)), clock: clock.clock)
            try await store.migrate()
            try await Self.history(store, now: now)
            let movements = try await Self.batch(store)
            let intelligence = IntelligenceService(store: store, clock: clock.clock)
            if cut {
                // S2's first read of the batch: a prepared statement's execution (COM_STMT_EXECUTE) carrying its id.
                proxy.arm { _, packet in packet.hasPrefix("\u{17}") && packet.contains("S2") }
                await #expect(throws: (any Error).self) { try await intelligence.prepareEvaluation(of: movements) }
                #expect(proxy.cuts == 1, "the connection was cut while S2 was read")
            }
            for movement in movements { _ = try await intelligence.evaluate(movement) }
            outcomes.append(try await Self.outcome(store))
            try await store.close()
        }
        #expect(outcomes[0] == outcomes[1])
        #expect(outcomes[0].contains { $0.hasPrefix("S2 ") && ($0.contains(" lowStock open ") || $0.contains(" negativeStock open ") || $0.contains(" stockOut open ")) },
                "S2's items were judged: \(outcomes[0].filter { $0.hasPrefix("S2 ") }.prefix(3))")
    }
}
