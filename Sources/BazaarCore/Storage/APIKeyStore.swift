/// API keys as stored: never a key itself, only its SHA-256 (`APIKeyRecord`).
public protocol APIKeyStore: Sendable {
    func insertAPIKey(_ record: APIKeyRecord) async throws
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func apiKeys() async throws -> [APIKeyRecord]
    /// Returns false when there is no such active key.
    func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool
    func hasActiveAdminKey() async throws -> Bool
}
