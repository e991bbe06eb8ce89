import NIOCore
@testable import RedisClient
import Testing

/// `RESPParser` as the connection uses it: bytes arrive in arbitrary pieces, and `parse` must give exactly the values
/// of the whole stream, whatever the cuts (partial input consumes nothing), and refuse hostile input with a
/// `ProtocolError`, never a crash or an endless wait.
@Suite("RESP parser on a byte stream") struct RESPParserStreamTests {
    /// A small deterministic generator (SplitMix64), so a failure replays.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Feeds `bytes` in pieces of the given sizes (cycled) the way `RedisChannelHandler.channelRead` does, and
    /// returns every value parsed.
    static func feed(_ bytes: [UInt8], pieces: [Int]) throws -> [RESPValue] {
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        var offset = 0, piece = 0
        while offset < bytes.count {
            let size = max(1, pieces[piece % pieces.count])
            piece += 1
            buffer.writeBytes(bytes[offset..<min(bytes.count, offset + size)])
            offset += size
            while true {
                let before = buffer.readableBytes
                guard let value = try RESPParser.parse(&buffer) else {
                    #expect(buffer.readableBytes == before, "an incomplete value consumed bytes")
                    break
                }
                values.append(value)
            }
            buffer.discardReadBytes()
        }
        #expect(buffer.readableBytes == 0, "bytes left over")
        return values
    }

    static func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

    /// Every kind of value, with the encodings that map onto another (`=` verbatim, `(` big number, `!` blob
    /// error, `|` attributes, `$-1` / `*-1` / `_` nulls) and bulk strings holding the bytes of a frame.
    static let frames: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR wrong\r\n", .error("ERR wrong")),
        (":-42\r\n", .integer(-42)),
        ("$0\r\n\r\n", bulk("")),
        ("$11\r\nhas\r\n*2\r\n:1\r\n", bulk("has\r\n*2\r\n:1")),
        ("$-1\r\n", .null), ("*-1\r\n", .null), ("_\r\n", .null),
        (",3.25\r\n", .double(3.25)), (",-inf\r\n", .double(-.infinity)),
        ("#t\r\n", .boolean(true)), ("#f\r\n", .boolean(false)),
        ("(3492890328409238509324850943850943825024385\r\n", .simpleString("3492890328409238509324850943850943825024385")),
        ("=15\r\ntxt:Some string\r\n", bulk("Some string")),
        ("!21\r\nSYNTAX invalid syntax\r\n", .error("SYNTAX invalid syntax")),
        ("*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n", .array([.integer(1), .array([.simpleString("a"), bulk("b")]), .array([])])),
        ("%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n_\r\n", .map([(.simpleString("first"), .integer(1)), (bulk("second"), .null)])),
        ("~2\r\n:1\r\n:2\r\n", .set([.integer(1), .integer(2)])),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\n3:11\r\n", .push([bulk("message"), bulk("ch"), bulk("3:11")])),
        ("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039\r\n:9543\r\n", .array([.integer(2039), .integer(9543)])),
    ]

    @Test func aStreamCutAtEveryPlaceParsesToTheSameValues() throws {
        let stream = Array(Self.frames.map(\.0).joined().utf8)
        let expected = Self.frames.map(\.1)
        #expect(try Self.feed(stream, pieces: [stream.count]) == expected)
        // One cut anywhere (inside a marker, a length, a CRLF, a bulk body)...
        for cut in 1..<stream.count {
            #expect(try Self.feed(stream, pieces: [cut, stream.count]) == expected, "cut at \(cut)")
        }
        // ...and many: byte by byte and in uneven pieces.
        for pieces in [[1], [2], [3], [1, 5, 2], [7, 1, 1, 13]] {
            #expect(try Self.feed(stream, pieces: pieces) == expected, "pieces \(pieces)")
        }
    }

    /// Random values (nested, with bulk strings of arbitrary bytes) encoded, concatenated and cut at random.
    @Test(arguments: [1, 2, 3, 4, 5])
    func randomValuesSurviveRandomCuts(_ seed: UInt64) throws {
        var random = SeededGenerator(state: seed)
        let values = (0..<60).map { _ in Self.randomValue(&random, depth: 0) }
        var bytes: [UInt8] = []
        for value in values { Self.encode(value, into: &bytes) }
        let pieces = (0..<32).map { _ in Int.random(in: 1...40, using: &random) }
        #expect(try Self.feed(bytes, pieces: pieces) == values)
    }

    static func randomValue(_ random: inout SeededGenerator, depth: Int) -> RESPValue {
        let kinds = depth >= 4 ? 7 : 11
        switch Int.random(in: 0..<kinds, using: &random) {
        case 0: return .simpleString(String((0..<Int.random(in: 0...12, using: &random)).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x20...0x7E, using: &random))) }))
        case 1: return .error("ERR \(random.next())")
        case 2: return .integer(Int64(bitPattern: random.next()))
        case 3:
            var buffer = ByteBuffer()
            buffer.writeBytes((0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            return .bulkString(buffer)
        case 4: return .null
        case 5: return .double(Double(Int.random(in: -1_000_000...1_000_000, using: &random)) / 64)
        case 6: return .boolean(Bool.random(using: &random))
        default:
            let elements = (0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(&random, depth: depth + 1) }
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return .array(elements)
            case 1: return .set(elements)
            case 2: return .push(elements)
            default: return .map(elements.map { ($0, randomValue(&random, depth: depth + 1)) })
            }
        }
    }

    /// The RESP3 encoding of a value (what a server sends).
    static func encode(_ value: RESPValue, into bytes: inout [UInt8]) {
        func line(_ text: String) { bytes += Array(text.utf8) + [13, 10] }
        switch value {
        case .simpleString(let text): line("+" + text)
        case .error(let text): line("-" + text)
        case .integer(let number): line(":\(number)")
        case .bulkString(let buffer):
            line("$\(buffer.readableBytes)")
            bytes += Array(buffer.readableBytesView)
            bytes += [13, 10]
        case .null: line("_")
        case .double(let number): line(",\(number)")
        case .boolean(let flag): line(flag ? "#t" : "#f")
        case .array(let elements), .set(let elements), .push(let elements):
            let marker = if case .set = value { "~" } else if case .push = value { ">" } else { "*" }
            line(marker + "\(elements.count)")
            for element in elements { encode(element, into: &bytes) }
        case .map(let pairs):
            line("%\(pairs.count)")
            for (key, element) in pairs {
                encode(key, into: &bytes)
                encode(element, into: &bytes)
            }
        }
    }

    /// Nesting is bounded however it is built (arrays, maps, attributes) and however the bytes arrive: too deep is a
    /// protocol error, not a stack overflow or a wait for more bytes.
    @Test func hostileNestingIsRefusedWhicheverWayItArrives() throws {
        let depth = RESPParser.maxDepth
        let fits = String(repeating: "*1\r\n", count: depth - 1) + ":1\r\n"
        #expect(try Self.feed(Array(fits.utf8), pieces: [3]).count == 1)
        for hostile in [String(repeating: "*1\r\n", count: depth) + ":1\r\n",
                        String(repeating: "%1\r\n+k\r\n", count: depth) + ":1\r\n",
                        String(repeating: "|1\r\n+a\r\n+b\r\n", count: depth) + ":1\r\n",
                        String(repeating: "*1\r\n", count: 100_000)] {
            for pieces in [[hostile.utf8.count], [1], [5, 3]] {
                #expect(throws: RESPParser.ProtocolError.self) { try Self.feed(Array(hostile.utf8), pieces: pieces) }
            }
        }
    }

    /// Random bytes, and valid frames with one byte changed: each parse answers a value, nil (consuming nothing) or
    /// a `ProtocolError`; nothing traps (a trap would end the test process).
    @Test func garbledInputAnswersAValueNothingOrAProtocolError() throws {
        var random = SeededGenerator(state: 99)
        let valid = Array(Self.frames.map(\.0).joined().utf8)
        for round in 0..<3_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 1...48, using: &random)).map { _ in
                    // Mostly RESP's own bytes, so the garbage reaches deep into the parser.
                    let alphabet = Array("+-:$*%~>|_#,(=!\r\n0123456789-".utf8)
                    return Bool.random(using: &random) ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
                }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                while buffer.readableBytes > 0 {
                    let before = buffer.readableBytes
                    guard try RESPParser.parse(&buffer) != nil else {
                        #expect(buffer.readableBytes == before)
                        break
                    }
                    #expect(buffer.readableBytes < before, "a value consumed bytes")
                }
            } catch is RESPParser.ProtocolError {
                // Refused: the connection closes.
            }
        }
    }
}
