import BazaarCommands
import BazaarCore
import BazaarDomain
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Strict JSON request bodies: unknown fields, wrong types and out-of-range numbers are refused with a
/// message naming the field, instead of being ignored or failing later.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: BazaarRequestContext) async throws -> T {
        try decode(T.self, from: try await collect(request, context: context))
    }

    /// The body of one movement (`POST /update-stock/...`). A well-formed body takes the fast path of Kafka command
    /// messages (`JSONNode`, then `MovementBody(commandMessage:)`, which accepts only what the `Decodable` path
    /// accepts, with the same meaning); anything else is decoded the `Decodable` way, which names what is wrong.
    /// Issue 15: `JSONDecoder` and the unknown-field check were 5% of Bazaar's CPU under the write load.
    static func decodeMovement(from request: Request, context: BazaarRequestContext) async throws -> MovementBody {
        try decodeMovement(try await collect(request, context: context))
    }

    static func decodeMovement(_ buffer: ByteBuffer) throws -> MovementBody {
        if let text = String(validating: buffer.readableBytesView, as: UTF8.self), case .object(let object)? = JSONNode.parse(text),
            object.keys.allSatisfy(MovementBody.fields.contains), let body = MovementBody(commandMessage: object)
        {
            return body
        }
        return try decode(MovementBody.self, from: buffer)
    }

    private static func collect(_ request: Request, context: BazaarRequestContext) async throws -> ByteBuffer {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge)
        }
        guard buffer.readableBytes > 0 else {
            throw DomainError.invalid(field: "body", message: "is required: send a JSON object")
        }
        return buffer
    }

    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try StrictJSON.validate(text: buffer.readableBytesView, field: "body")
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem.decoding(error)
        }
    }
}





/// JSON answers.
enum JSONResponse {
    static func make(_ json: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        // Room for the three RateLimit fields the auth middleware adds; appended, not set: no caller passes a type.
        assert(headers[.contentType] == nil, "JSON answers set their own Content-Type")
        headers.reserveCapacity(headers.count + 4)
        headers.append(HTTPField(name: .contentType, value: "application/json"))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// `{"items": [...], "next_cursor": ...}`
    static func page(_ items: [String], nextCursor: String?) -> Response {
        make("{\"items\":[\(items.joined(separator: ","))],\"next_cursor\":\(JSON.quotedOrNull(nextCursor))}")
    }

    /// A page from rows read with `limit + 1` (the extra row only tells that there is a next page).
    static func page<Row>(_ rows: [Row], limit: Int, json: (Row) -> String, cursor: (Row) -> String) -> Response {
        let (items, next) = trimmed(rows, limit: limit, cursor: cursor)
        return page(items.map(json), nextCursor: next)
    }

    static func trimmed<Row>(_ rows: [Row], limit: Int, cursor: (Row) -> String) -> (items: [Row], next: String?) {
        guard rows.count > limit else { return (rows, nil) }
        let items = Array(rows.prefix(limit))
        return (items, items.last.map(cursor))
    }
}

/// Query parameters and path segments.
extension Request {
    /// A query parameter, percent-decoded (by Hummingbird). An empty value (`cursor=`, `limit=`) is absent, as
    /// forms and generated clients send an optional parameter they have no value for (openapi.yaml says so).
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters[Substring(name)], !value.isEmpty else { return nil }
        return String(value)
    }

    /// An optional enumerated filter in the query (400 naming the allowed values otherwise).
    func enumQuery<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let value = query(name) else { return nil }
        guard let parsed = T(rawValue: value) else {
            throw Problem.badParameter(name, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }

    /// An optional identifier filter in the query (400 when it is not a valid identifier).
    /// An optional filter by an API key's name (`actor`): at most `APIKeyService.maxNameLength` characters and no
    /// control character, as every key's name. A NUL would otherwise end the text where storage binds it.
    func keyNameQuery(_ name: String) throws -> String? {
        guard let value = query(name) else { return nil }
        guard value.count <= APIKeyService.maxNameLength, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem.badParameter(name, "must be an API key's name: at most \(APIKeyService.maxNameLength) characters, no control characters")
        }
        return value
    }

    func identifierQuery(_ name: String) throws -> String? {
        guard let value = query(name) else { return nil }
        guard Identifier.isValid(value) else {
            throw Problem.badParameter(name, "must be 1-\(Identifier.maxLength) characters from A-Z a-z 0-9 . _ : -")
        }
        return value
    }
}

extension BazaarRequestContext {
    /// A path identifier (store, product, key, alert, webhook), percent-decoded and then validated against the
    /// identifier alphabet. Decoding comes first: `/get-stock/al/%3AgA` is product `:gA`, the form a browser's
    /// `encodeURIComponent` sends (the router hands over path segments as they came on the wire).
    func identifier(_ name: String) throws -> String {
        guard let raw = parameters.get(name) else { throw Problem.badParameter(name, "is missing") }
        guard let value = PercentDecoding.decode(raw), Identifier.isValid(value) else {
            throw Problem.badParameter(name, "must be 1-\(Identifier.maxLength) characters from A-Z a-z 0-9 . _ : -")
        }
        return value
    }
}

/// RFC 3986 percent-decoding of one path segment.
enum PercentDecoding {
    /// The decoded text, or nil for a malformed escape (`%`, `%4`, `%zz`) or bytes that are not UTF-8.
    static func decode(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(Hex.value(ofDigit:)), let low = iterator.next().flatMap(Hex.value(ofDigit:)) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}


extension Problem {
    /// A body that could not be decoded, naming the field (the command line words JSON errors with it too).
    public static func decoding(_ error: DecodingError) -> Problem { Problem(DomainError.decoding(error)) }

    /// The problem object for why a request or a Kafka command was refused: the body of a 4xx answer, the `problem`
    /// of a rejection on `bazaar.stock-commands.rejected`.
    public static func json(for error: any Error) -> String {
        switch error {
        case let problem as Problem: problem.json
        case let domain as DomainError: Problem(domain).json
        default: Problem(.internalServerError, "internal", "Internal error", "\(error)").json
        }
    }
}
