import BazaarCommands
import BazaarDomain

/// An answer written as an ordered list of fields. Every field is encoded, a nil one as `null`: the synthesized
/// `Encodable` would leave a nil optional out, and clients (and openapi.yaml) expect the key with `null`.
///
/// The list is written in its schema's order, for the reader of this code; the answer's keys come out sorted
/// (`Answer.encoder()`: this toolchain's encoder would otherwise write them in a hash order that varies from process to
/// process). Clients read keys by name, as JSON has it.
protocol FieldAnswer: Encodable {
    var fields: [(String, any Encodable)] { get }
}

extension FieldAnswer {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in fields {
            try container.encode(value, forKey: AnyKey(stringValue: key))
        }
    }
}

/// Values as answers write them.
enum AnswerValue {
    /// A time as RFC 3339 with milliseconds (`2026-11-29T08:00:00.000Z`).
    static func time(_ millis: Int64) -> String { RFC3339.format(millis: millis) }

    static func time(_ millis: Int64?) -> String? { millis.map { RFC3339.format(millis: $0) } }

    /// A number, or nil for what JSON cannot hold (NaN, infinities): the encoder would refuse them.
    static func finite(_ value: Double?) -> Double? {
        guard let value, value.isFinite else { return nil }
        return value
    }
}
