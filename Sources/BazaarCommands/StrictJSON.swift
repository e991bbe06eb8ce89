public import BazaarDomain

/// The JSON every body and command message must be before it is decoded: RFC 8259 and nothing looser, one meaning
/// for every text. Foundation's decoder is lenient where that matters to a ledger:
/// - it takes a trailing comma (`{"delta": 5,}`) and other forms no other JSON parser agrees on;
/// - it keeps one of two members with the same name (`{"delta": 5, "delta": -5}`) where a proxy, a log or the
///   fast path may keep the other: two readers of one request would disagree on what it asked;
/// - it reads `0.99999999999999999` as the integer 1 (the nearest `Double`), and `1e400` as no number at all.
///
/// `validate` walks the text once without building it, and throws a `DomainError.invalid` naming where it broke
/// (`lines[2].quantity`, or the byte offset for syntax), so the client learns what to fix.
public enum StrictJSON {
    /// Objects and arrays nest at most this deep (no body or command needs more than four levels).
    public static let maxDepth = 64
    /// A member name is at most this many characters (Unicode scalars, as JSON Schema's `maxLength` counts them: at
    /// most 256 bytes). Names are compared as Swift compares strings (canonically equivalent names are one name, as
    /// every decoder here reads them), which normalizes them: unbounded, a name of combining marks costs time
    /// quadratic in its length (a 160 KB name took a core for seconds).
    public static let maxNameLength = 64
    /// The largest magnitude of an integer taken: beyond 2^53 not every JSON reader holds an integer exactly
    /// (RFC 8259, section 6), and a `Double` rounds it (`attributes` stored 9007199254740993 as ...992).
    public static let maxExactInteger = 9_007_199_254_740_992

    /// `text` cut to `limit` characters: refusals quote the input, and must not echo a megabyte back.
    static func clipped(_ text: String, _ limit: Int = 80) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    public static func validate(_ bytes: UnsafeBufferPointer<UInt8>, field: String = "body") throws(DomainError) {
        var scanner = Scanner(bytes: bytes, root: field)
        try scanner.value(path: field, depth: 0)
        scanner.skipWhitespace()
        guard scanner.index == bytes.count else { throw scanner.syntax("unexpected text after the JSON value") }
    }

    /// Validates a whole text as it came: UTF-8 first (JSON text is UTF-8), then `validate`.
    public static func validate(text bytes: some Collection<UInt8>, field: String) throws(DomainError) {
        let result: Result<Void, DomainError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(DomainError) in
                guard String(validating: buffer, as: UTF8.self) != nil else {
                    throw .invalid(field: field, message: "is not valid UTF-8: JSON text must be UTF-8")
                }
                try validate(buffer, field: field)
            }
        }
        if let result { return try result.get() }
        try validate(text: Array(bytes), field: field)
    }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let root: String
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>, root: String) {
            self.bytes = bytes
            self.root = root
        }

        func syntax(_ what: String) -> DomainError {
            .invalid(field: root, message: "is not valid JSON: \(what) at byte \(index) (RFC 8259: no trailing commas, comments or single quotes)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(DomainError) {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { throw syntax("expected \(what)") }
            index += 1
        }

        mutating func value(path: String, depth: Int) throws(DomainError) {
            skipWhitespace()
            guard index < bytes.count else { throw syntax("expected a value") }
            guard depth < StrictJSON.maxDepth else {
                throw DomainError.invalid(field: path, message: "nests deeper than \(StrictJSON.maxDepth) levels")
            }
            switch bytes[index] {
            case UInt8(ascii: "{"): try object(path: path, depth: depth)
            case UInt8(ascii: "["): try array(path: path, depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try number(path: path)
            }
        }

        mutating func literal(_ word: String) throws(DomainError) {
            for byte in word.utf8 {
                guard index < bytes.count, bytes[index] == byte else { throw syntax("expected a value") }
                index += 1
            }
        }

        mutating func object(path: String, depth: Int) throws(DomainError) {
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
            var names = Set<String>()
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw syntax("expected a member name in double quotes") }
                let name = try string()
                guard name.unicodeScalars.count <= StrictJSON.maxNameLength else {
                    throw DomainError.invalid(field: StrictJSON.clipped(path), message: "has a member name longer than \(StrictJSON.maxNameLength) characters")
                }
                let member = StrictJSON.clipped(path == root && depth == 0 ? name : path + "." + name, 200)
                guard names.insert(name).inserted else {
                    throw DomainError.invalid(field: member, message: "appears twice in one object: send each field once")
                }
                try expect(UInt8(ascii: ":"), "':' after a member name")
                try value(path: member, depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw syntax("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { throw syntax("expected ',' or '}'") }
                index += 1
                return
            }
        }

        mutating func array(path: String, depth: Int) throws(DomainError) {
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
            var count = 0
            while true {
                try value(path: "\(path)[\(count)]", depth: depth + 1)
                count += 1
                skipWhitespace()
                guard index < bytes.count else { throw syntax("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { throw syntax("expected ',' or ']'") }
                index += 1
                return
            }
        }

        /// A string from its opening quote; answers its text (escapes resolved) for member names.
        mutating func string() throws(DomainError) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            var runStart = index
            func flushRun(_ end: Int) {
                scalars.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self).unicodeScalars)
            }
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    flushRun(index)
                    index += 1
                    return String(scalars)
                }
                guard byte >= 0x20 else { throw syntax("a control character inside a string (escape it)") }
                if byte == UInt8(ascii: "\\") {
                    flushRun(index)
                    index += 1
                    guard index < bytes.count else { break }
                    switch bytes[index] {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"): scalars.append(try escapedScalar())
                    default: throw syntax("an unknown escape in a string")
                    }
                    index += 1
                    runStart = index
                    continue
                }
                index += 1
            }
            throw syntax("unterminated string")
        }

        /// `\uXXXX` (a pair for a scalar beyond the BMP), `index` on its last digit afterwards.
        mutating func escapedScalar() throws(DomainError) -> Unicode.Scalar {
            let high = try hex4()
            if (0xD800...0xDBFF).contains(high) {
                guard index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\"), bytes[index + 2] == UInt8(ascii: "u") else {
                    throw syntax("a lone surrogate escape (\\u\(String(high, radix: 16))) is not a character")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw syntax("a lone surrogate escape is not a character") }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else { throw syntax("a lone surrogate escape (\\u\(String(high, radix: 16))) is not a character") }
            return scalar
        }

        /// The four hex digits after `\u` (`index` on the `u`), `index` left on the last digit.
        mutating func hex4() throws(DomainError) -> UInt32 {
            guard index + 4 < bytes.count else { throw syntax("a short \\u escape") }
            var value: UInt32 = 0
            for offset in 1...4 {
                guard let digit = hexDigit(bytes[index + offset]) else { throw syntax("a \\u escape needs four hex digits") }
                value = value << 4 | digit
            }
            index += 4
            return value
        }

        func hexDigit(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }
    }
}

extension StrictJSON.Scanner {
    /// A number by RFC 8259's grammar. Refused besides: one too large for a `Double` (`1e400`), and one whose decimal
    /// value is not whole but whose nearest `Double` is (`0.99999999999999999`, `1e-400`): read as an integer it
    /// would change meaning, and no client means it.
    mutating func number(path: String) throws(DomainError) {
        let start = index
        func digits() -> (from: Int, to: Int) {
            let from = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return (from, index)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integer = digits()
        guard integer.to > integer.from else { throw syntax("expected a value") }
        guard bytes[integer.from] != UInt8(ascii: "0") || integer.to - integer.from == 1 else { throw syntax("a number with a leading zero") }
        var fraction = (from: index, to: index)
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fraction = digits()
            guard fraction.to > fraction.from else { throw syntax("a number needs digits after its '.'") }
        }
        var exponent = 0, hasExponent = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            hasExponent = true
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                negative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let e = digits()
            guard e.to > e.from else { throw syntax("a number needs digits after its exponent") }
            for i in e.from..<e.to { exponent = min(1_000_000, exponent * 10 + Int(bytes[i] - UInt8(ascii: "0"))) }
            if negative { exponent = -exponent }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard fraction.to > fraction.from || hasExponent else {  // an integer as written
            guard let exact = Int64(text), exact.magnitude <= StrictJSON.maxExactInteger else {
                throw DomainError.invalid(field: path, message: "is out of range: an integer must be within ±\(StrictJSON.maxExactInteger) (2^53), which every JSON reader holds exactly")
            }
            return
        }
        guard let value = Double(text), value.isFinite else {
            throw DomainError.invalid(field: path, message: "is out of range for a number (\(StrictJSON.clipped(text)))")
        }
        guard value.rounded() == value else { return }
        if isWhole(integer: integer, fraction: fraction, exponent: exponent) {
            // Whole as written (`9007199254740993.0`, `1e23`): an integer after all, bounded as one.
            guard value.magnitude > Double(StrictJSON.maxExactInteger) else { return }
            throw DomainError.invalid(field: path, message: "is out of range: an integer must be within ±\(StrictJSON.maxExactInteger) (2^53), which every JSON reader holds exactly")
        }
        throw DomainError.invalid(field: path, message: "has more digits than a number here holds exactly: \(StrictJSON.clipped(text)) would be read as \(value)")
    }

    /// Whether digits `integer`.`fraction` times ten to `exponent` is a whole number.
    func isWhole(integer: (from: Int, to: Int), fraction: (from: Int, to: Int), exponent: Int) -> Bool {
        var fractionEnd = fraction.to
        while fractionEnd > fraction.from, bytes[fractionEnd - 1] == UInt8(ascii: "0") { fractionEnd -= 1 }
        if fractionEnd > fraction.from { return fractionEnd - fraction.from <= exponent }  // its last digit is not 0
        var zeros = 0, end = integer.to
        while end > integer.from, bytes[end - 1] == UInt8(ascii: "0") { zeros += 1; end -= 1 }
        return end == integer.from || -exponent <= zeros  // zero itself, or the digits dropped are zeros
    }
}
