public import BazaarDomain
import Foundation

// Strict JSON decoding shared by every body and message Bazaar accepts: unknown fields, wrong types and numbers out
// of range are refused with a `DomainError.invalid` that names the field (`movements[2].delta`), instead of being
// ignored or failing later.

/// A coding key for any field name, used to list the fields a body actually sent.
public struct AnyKey: CodingKey {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

extension Decoder {
    /// Refuses fields outside `allowed`, naming the first unknown one and the fields that are allowed.
    public func rejectUnknownFields(_ allowed: Set<String>) throws {
        let container = try self.container(keyedBy: AnyKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
            throw DomainError.invalid(
                field: fieldPath(codingPath, unknown),
                message: "is not a known field; allowed fields: \(allowed.sorted().joined(separator: ", "))")
        }
    }
}

/// `movements[3].delta` from a coding path.
public func fieldPath(_ path: [any CodingKey], _ last: String? = nil) -> String {
    var out = ""
    for key in path {
        if let index = key.intValue { out += "[\(index)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
    }
    if let last { out += (out.isEmpty ? "" : ".") + last }
    return out.isEmpty ? "body" : out
}

extension KeyedDecodingContainer {
    /// An optional integer field with a precise complaint for fractions, out-of-range numbers and other types
    /// (Foundation's decoder reports those as "not valid JSON").
    public func integer<T: FixedWidthInteger & Decodable>(_ key: Key, as type: T.Type = Int64.self) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(T.self, forKey: key) { return value }
        let field = fieldPath(codingPath, key.stringValue)
        if let number = try? decode(Double.self, forKey: key) {
            throw DomainError.invalid(
                field: field, message: number.rounded() == number ? "is out of range" : "must be a whole number (got \(number))")
        }
        throw DomainError.invalid(field: field, message: "must be an integer")
    }

    public func requiredInteger<T: FixedWidthInteger & Decodable>(_ key: Key, as type: T.Type = Int64.self) throws -> T {
        guard let value = try integer(key, as: type) else {
            throw DomainError.invalid(field: fieldPath(codingPath, key.stringValue), message: "is required")
        }
        return value
    }
}

extension DomainError {
    /// A body that could not be decoded, naming the field (the command line words JSON errors with it too).
    public static func decoding(_ error: DecodingError) -> DomainError {
        let field: String
        let message: String
        switch error {
        case .typeMismatch(let type, let context):
            field = fieldPath(context.codingPath)
            message = "must be \(describe(type))"
        case .valueNotFound(let type, let context):
            field = fieldPath(context.codingPath)
            message = "must be \(describe(type)), not null"
        case .keyNotFound(let key, let context):
            field = fieldPath(context.codingPath, key.stringValue)
            message = "is required"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                field = "body"
                message = "is not valid JSON: \(context.debugDescription)"
            } else {
                field = fieldPath(context.codingPath)
                message = "is out of range or malformed: \(context.debugDescription)"
            }
        @unknown default:
            field = "body"
            message = "could not be read"
        }
        return .invalid(field: field, message: message)
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int64.Type, is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: "a JSON object"
        }
    }
}
