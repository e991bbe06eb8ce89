import BazaarDomain
import Foundation

/// The UTC date a test's expectations name as "today" (`Date()`'s epoch day), and a second run for a test that
/// crossed midnight UTC (CI may run then): the server's clock readings fall between the test's own, so a body that
/// finds the date unchanged after the server's last reading it depends on knows the server's today exactly.
enum UTCDay {
    /// Thrown by `check` when the date changed since the body's start.
    struct Changed: Error {}

    static var current: Int64 { RFC3339.epochDay(millis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }

    /// Throws `Changed` unless it is still `day`.
    static func check(still day: Int64) throws { if current != day { throw Changed() } }

    /// Runs `body` with the day it starts on, and once more when it throws `Changed` (a second run cannot cross
    /// midnight too): expectations exact on either day, none skipped.
    static func retryingAcrossMidnight(_ body: (_ today: Int64) async throws -> Void) async throws {
        do { try await body(current) } catch is Changed { try await body(current) }
    }
}
