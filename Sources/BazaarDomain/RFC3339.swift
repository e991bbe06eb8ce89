/// RFC 3339 UTC timestamps with millisecond precision, without Foundation's formatters (slow, and not pure).
public enum RFC3339 {
    /// `2026-11-27T01:45:22.123Z` for the given epoch milliseconds.
    public static func format(millis: Int64) -> String {
        guard let fields = fourDigitYearFields(millis) else { return slowFormat(millis: millis) }
        // `YYYY-MM-DDTHH:MM:SS.mmmZ` written straight into one 24-byte string (the hot path of every answer and event).
        return String(unsafeUninitializedCapacity: 24) { write(fields, into: $0) }
    }

    /// `format(millis:)`'s bytes, appended to `bytes`.
    public static func write(millis: Int64, into bytes: inout [UInt8]) {
        guard let fields = fourDigitYearFields(millis) else { return bytes.append(contentsOf: slowFormat(millis: millis).utf8) }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 24))
        bytes.withUnsafeMutableBufferPointer { _ = write(fields, into: UnsafeMutableBufferPointer(rebasing: $0[start...])) }
    }

    typealias Fields = (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, ms: Int64)

    /// The fields of `millis`' time, when its year has four digits (every time a movement can carry).
    static func fourDigitYearFields(_ millis: Int64) -> Fields? {
        let (days, msOfDay) = floorDivMod(millis, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        guard (0...9999).contains(year) else { return nil }
        return (year, month, day, msOfDay / 3_600_000, msOfDay / 60_000 % 60, msOfDay / 1000 % 60, msOfDay % 1000)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` into the first 24 bytes of `b`; answers 24.
    static func write(_ f: Fields, into b: UnsafeMutableBufferPointer<UInt8>) -> Int {
        func put(_ value: Int64, _ at: Int, _ width: Int) {
            var v = value
            for i in stride(from: at + width - 1, through: at, by: -1) {
                b[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
            }
        }
        put(f.year, 0, 4); b[4] = 45; put(f.month, 5, 2); b[7] = 45; put(f.day, 8, 2); b[10] = 84
        put(f.hour, 11, 2); b[13] = 58; put(f.minute, 14, 2); b[16] = 58; put(f.second, 17, 2); b[19] = 46
        put(f.ms, 20, 3); b[23] = 90
        return 24
    }

    /// Years before 0 or after 9999, which no movement carries: padded, as they always were.
    static func slowFormat(millis: Int64) -> String {
        let (days, msOfDay) = floorDivMod(millis, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let hour = msOfDay / 3_600_000, minute = msOfDay / 60_000 % 60, second = msOfDay / 1000 % 60, ms = msOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(ms, 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (a space or lowercase `t`/`z` accepted too),
    /// or a bare date `YYYY-MM-DD` as its midnight UTC. Returns nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int64? {
            guard at + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in at..<(at + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let year = digits(0, 4), b.count >= 10, b[4] == 45, let month = digits(5, 2), b[7] == 45,
            let day = digits(8, 2), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        let dayMillis = days(fromCivil: year, month, day) * 86_400_000
        if b.count == 10 { return dayMillis }
        guard b.count >= 20, [84, 116, 32].contains(b[10]), let hour = digits(11, 2), b[13] == 58,
            let minute = digits(14, 2), b[16] == 58, let second = digits(17, 2),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fractionMillis: Int64 = 0
        if b[i] == 46 {
            i += 1
            var scale: Int64 = 100
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fractionMillis += Int64(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offsetMinutes: Int64 = 0
        if b[i] == 90 || b[i] == 122 {
            guard i + 1 == b.count else { return nil }
        } else if b[i] == 43 || b[i] == 45 {
            guard i + 6 == b.count, let oh = digits(i + 1, 2), b[i + 3] == 58, let om = digits(i + 4, 2),
                oh < 24, om < 60
            else { return nil }
            offsetMinutes = (oh * 60 + om) * (b[i] == 45 ? -1 : 1)
        } else {
            return nil
        }
        return dayMillis + (hour * 3600 + minute * 60 + min(second, 59)) * 1000 + fractionMillis
            - offsetMinutes * 60_000
    }

    // Howard Hinnant's days-from-civil and civil-from-days algorithms (proleptic Gregorian).
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of the UTC day containing `millis`.
    public static func epochDay(millis: Int64) -> Int64 { floorDivMod(millis, 86_400_000).0 }

    /// `YYYY-MM-DD` of an epoch day.
    public static func formatDate(epochDay: Int64) -> String {
        let (y, m, d) = civil(fromDays: epochDay)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    @inline(__always)
    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
