import NIOCore
@testable import RedisClient
import Testing

/// Attack suite: a hostile or broken Redis server must not crash the process or make it wait for ever.
@Suite("Attack suite: hostile RESP frames")
struct RESPParserAttackTests {
    func parse(_ text: String) throws -> RESPValue? {
        var buffer = ByteBuffer(string: text)
        return try RESPParser.parse(&buffer)
    }

    @Test func negativeAndAbsurdAggregateCountsAreProtocolErrors() throws {
        for frame in ["%-2\r\n", "%-1\r\n", "|-5\r\n", "*-2\r\n", "~-7\r\n", ">-9223372036854775808\r\n",
                      "*9223372036854775807\r\n", "%9223372036854775807\r\n", "*16777217\r\n", "$-2\r\n", "$-9223372036854775808\r\n"] {
            #expect(throws: RESPParser.ProtocolError.self, "\(frame.debugDescription) is refused") { try parse(frame) }
        }
        // The legitimate forms still parse: the RESP2 nulls and small aggregates.
        #expect(try parse("*-1\r\n") == .null)
        #expect(try parse("$-1\r\n") == .null)
        #expect(try parse("*2\r\n:1\r\n:2\r\n") == .array([.integer(1), .integer(2)]))
        #expect(try parse("%1\r\n+a\r\n:1\r\n") != nil)
        #expect(try parse("*3\r\n:1\r\n") == nil, "an incomplete frame waits for more bytes")
    }

    /// A line that never ends (no CR) is refused once it passes the bound, instead of growing the connection's
    /// buffer for ever; a line within the bound, and one still arriving, are fine.
    @Test func endlessLinesAreProtocolErrors() throws {
        let long = String(repeating: "x", count: RESPParser.maxLineBytes + 1)
        for kind in ["+", "-", ":", "(", "#", "_", "*", "$"] {
            #expect(throws: RESPParser.ProtocolError.self, "\(kind) line without an end") { try parse(kind + long) }
            #expect(throws: RESPParser.ProtocolError.self, "\(kind) line past the bound") { try parse(kind + long + "\r\n") }
        }
        let fine = String(repeating: "y", count: 1024)
        #expect(try parse("+" + fine + "\r\n") == .simpleString(fine))
        #expect(try parse("+" + fine) == nil, "a line still arriving waits for more bytes")
    }
}
