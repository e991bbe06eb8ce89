import Foundation

/// Wall-clock time in epoch milliseconds, injectable so tests can pin it.
public struct WallClock: Sendable {
    public var nowMillis: @Sendable () -> Int64

    public init(nowMillis: @escaping @Sendable () -> Int64) { self.nowMillis = nowMillis }

    public static let system = WallClock { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
