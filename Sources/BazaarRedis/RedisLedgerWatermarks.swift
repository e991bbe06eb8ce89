public import BazaarCore
public import RedisClient

/// The ledger watermark of a deployment's shared cache (`LedgerClockWatch`), beside its levels:
/// `<prefix>ledger-watermark` = `<generation>:<sequence>:<server>`, with no expiry. A Redis restarted without
/// persistence has lost the levels with it, and the next check starts it again from the clock; one that evicts any
/// key (`allkeys-*` policies) may lose it alone, and a database that goes back before the next check is then missed.
public struct RedisLedgerWatermarks: LedgerWatermarks {
    let redis: RedisClient
    let key: String

    public init(redis: RedisClient, keyPrefix: String) {
        self.redis = redis
        key = keyPrefix + "ledger-watermark"
    }

    /// KEYS[1] the watermark; ARGV: the generation seen ('' for none), the sequence seen, the server seen, the new
    /// reading's sequence and server, and '1' when the database went back. Returns {generation, sequence, server,
    /// started}: what is kept now. Only a watermark still as seen is changed (nodes check concurrently).
    static let advanceScript = RedisScript("""
        local current = redis.call('GET', KEYS[1])
        local generation, sequence, server
        if current then generation, sequence, server = string.match(current, '^(%d+):(%d+):(.*)$') end
        if not generation then
          redis.call('SET', KEYS[1], '0:' .. ARGV[4] .. ':' .. ARGV[5])
          return {'0', ARGV[4], ARGV[5], 0}
        end
        if generation ~= ARGV[1] or sequence ~= ARGV[2] or server ~= ARGV[3] then
          return {generation, sequence, server, 0}
        end
        if ARGV[6] == '1' then
          local next = tostring(tonumber(generation) + 1)
          redis.call('SET', KEYS[1], next .. ':' .. ARGV[4] .. ':' .. ARGV[5])
          return {next, ARGV[4], ARGV[5], 1}
        end
        if server == ARGV[5] and tonumber(sequence) < tonumber(ARGV[4]) then
          redis.call('SET', KEYS[1], generation .. ':' .. ARGV[4] .. ':' .. server)
          return {generation, ARGV[4], server, 0}
        end
        return {generation, sequence, server, 0}
        """)

    public func load() async throws -> LedgerWatermark? {
        try await redis.send(["GET", key]).string.flatMap(Self.decode)
    }

    public func advance(from seen: LedgerWatermark?, to reading: LedgerClockReading, wentBack: Bool) async throws -> (LedgerWatermark, started: Bool) {
        let arguments = [seen.map { String($0.generation) } ?? "", seen.map { String($0.reading.sequence) } ?? "",
                         seen?.reading.server ?? "", String(reading.sequence), reading.server, wentBack ? "1" : "0"]
        let reply = try await redis.run(Self.advanceScript, keys: [key], arguments: arguments)
        guard let parts = reply.array, parts.count == 4, let generation = parts[0].string.flatMap({ Int64($0) }),
              let sequence = parts[1].string.flatMap({ Int64($0) }), let server = parts[2].string else {
            throw RedisError.protocolError("unexpected answer to the ledger watermark script: \(reply)")
        }
        return (LedgerWatermark(generation: generation, reading: LedgerClockReading(sequence: sequence, server: server)),
                parts[3].int == 1)
    }

    static func decode(_ text: String) -> LedgerWatermark? {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let generation = Int64(parts[0]), let sequence = Int64(parts[1]) else { return nil }
        return LedgerWatermark(generation: generation, reading: LedgerClockReading(sequence: sequence, server: String(parts[2])))
    }
}
