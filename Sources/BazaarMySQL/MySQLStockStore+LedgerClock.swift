public import BazaarCore
import MySQLClient

/// `LedgerClockSource`: the primary's ledger clock and which server answered (`LedgerClockWatch`).
extension MySQLStockStore: LedgerClockSource {
    /// `ledger_clock` holds the highest sequence handed out (taken by every group commit); `@@server_id` tells a
    /// failover apart (each server of a replicated set has its own). Not counted with the requests' reads
    /// (`onPrimary`): a background check, once a second.
    public func readLedgerClock() async throws -> LedgerClockReading {
        do {
            return try await primary.withConnection { connection in
                let rows = try connection.select("SELECT seq, @@server_id FROM ledger_clock WHERE id = 1")
                guard let row = rows.first else { throw MySQLError(code: 0, message: "ledger_clock has no row: run bazaar migrate") }
                return LedgerClockReading(sequence: try row.int(0), server: String(try row.int(1)))
            }
        } catch {
            throw Self.storageError(error)
        }
    }
}
